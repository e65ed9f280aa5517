"""`tollgate <command>`: each command lives in its own module with a `register(subparsers)`."""

from __future__ import annotations

import argparse
import importlib
import sys
from collections.abc import Sequence

# Modules that add a subcommand; each exposes register(subparsers) and sets `handler` on it.
COMMAND_MODULES: tuple[str, ...] = (
    "tollgate.cli.run",
    "tollgate.cli.demo",
    "tollgate.cli.report",
    "tollgate.cli.rollout",
)


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="tollgate", description=__doc__)
    subparsers = parser.add_subparsers(dest="command", required=True)
    for module_name in COMMAND_MODULES:
        importlib.import_module(module_name).register(subparsers)
    return parser


def main(argv: Sequence[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    return int(args.handler(args))


if __name__ == "__main__":
    sys.exit(main())
