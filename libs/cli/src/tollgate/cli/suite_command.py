"""What `tollgate run` and `tollgate demo` share: their options, Ctrl-C, and failing cleanly.

A failed start is a message for a person (which service, why, the end of its log) and a
non-zero exit, never a Python traceback.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Callable, Coroutine
from typing import Any

from tollgate.cli.local_suite import START_TIMEOUT_SECONDS
from tollgate.cli.suite_failure import SuiteError

EXIT_FAILED = 1
EXIT_INTERRUPTED = 130


def add_suite_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument(
        "--keep-workdir",
        action="store_true",
        help="keep the folders with logs, keys and store data, and print where they are",
    )
    parser.add_argument(
        "--start-timeout",
        type=float,
        default=START_TIMEOUT_SECONDS,
        metavar="SECONDS",
        help=f"how long a service may take to become ready (default {START_TIMEOUT_SECONDS:.0f})",
    )
    parser.add_argument(
        "--single-process",
        action="store_true",
        help="run the seven services as one process (python -m tollgate.single_process): "
        "less CPU per request (docs/benchmarks.md), no per-service scaling or canaries",
    )


def say(line: str) -> None:
    print(line, flush=True)


async def _cancellable(main: Coroutine[Any, Any, int], on_stop: int) -> int:
    """Run `main`; SIGINT or SIGTERM cancels it, so every process is stopped on the way out."""
    task = asyncio.ensure_future(main)
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, task.cancel)
    try:
        return await task
    except asyncio.CancelledError:
        return on_stop
    finally:
        for sig in (signal.SIGINT, signal.SIGTERM):
            loop.remove_signal_handler(sig)


def run_suite_command(
    main: Callable[[], Coroutine[Any, Any, int]],
    args: argparse.Namespace,
    *,
    on_stop: int = EXIT_INTERRUPTED,
) -> int:
    """The exit code of `main`; `on_stop` after Ctrl-C; a SuiteError is printed, not raised."""
    try:
        return asyncio.run(_cancellable(main(), on_stop))
    except SuiteError as error:
        if error.log_path is not None and not args.keep_workdir:
            kept = "The logs were removed with the work folder; --keep-workdir keeps them."
            error.hint = "\n".join(filter(None, [error.hint, kept]))
        print(error.render(), file=sys.stderr, flush=True)
        return EXIT_FAILED


def suite_options(args: argparse.Namespace) -> dict[str, Any]:
    """The keyword arguments of `local_suite` that come from the command line."""
    return {
        "keep_workdir": args.keep_workdir,
        "start_timeout": args.start_timeout,
        "single_process": args.single_process,
        "progress": say,
    }
