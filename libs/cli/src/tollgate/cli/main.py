"""`tollgate <command>`: each command lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import warnings
from collections.abc import Sequence

# Modules that add a subcommand; each exposes register(subparsers) and sets `handler` on it.
COMMAND_MODULES: tuple[str, ...] = (
    "tollgate.cli.run",
    "tollgate.cli.demo",
    "tollgate.cli.report",
    "tollgate.cli.budget",
    "tollgate.cli.agents",
    "tollgate.cli.keys",
    "tollgate.cli.rollout",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def _quiet_embedded_servers() -> None:
    """The embedded Postgres looks for a runtime directory containers rarely have; the health
    probes of a starting suite meet servers that go away. None of it is worth a line on a
    person's terminal. (gRPC's fork handlers are turned off in the package's `__init__`.)"""
    os.environ.setdefault("GRPC_VERBOSITY", "ERROR")
    warnings.filterwarnings("ignore", message="XDG_RUNTIME_DIR is not set")


def main(argv: Sequence[str] | None = None) -> int:
    _quiet_embedded_servers()
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
