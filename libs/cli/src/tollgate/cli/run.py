"""`tollgate run`: the whole suite on this machine until Ctrl-C, or until a service stops."""

from __future__ import annotations

import argparse
import asyncio

from tollgate.cli.local_suite import LocalSuite, local_suite
from tollgate.cli.suite_command import add_suite_arguments, run_suite_command, suite_options


def _print_running(suite: LocalSuite) -> None:
    print("\nTollgate is running.\n")
    print(suite.describe())
    print(f"\ngateway:   {suite.gateway}")
    print(f"HTTP door: {suite.http_url}   (Anthropic SDKs: base_url=..., api_key=<API key>)")
    print(f"API key:   {suite.api_key}   (tenant acme-realty)")
    print(f"admin key: {suite.admin_key}")
    if suite.emulator_url:
        print(f"Claude:    Anthropic API emulator at {suite.emulator_url} (no ANTHROPIC_API_KEY)")
    print("\nCtrl-C stops everything.", flush=True)


async def _run(args: argparse.Namespace) -> int:
    async with local_suite(default_ports=not args.free_ports, **suite_options(args)) as suite:
        _print_running(suite)
        try:
            # Runs until Ctrl-C cancels it; a service that stops ends the run with its cause.
            await suite.run_until_exit(asyncio.Event().wait())
        except asyncio.CancelledError:
            print("stopping ...", flush=True)
            raise
    return 0


def _handle(args: argparse.Namespace) -> int:
    return run_suite_command(lambda: _run(args), args, on_stop=0)


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run every service locally until Ctrl-C")
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of 50051-50057"
    )
    add_suite_arguments(parser)
    parser.set_defaults(handler=_handle)
