"""`tollgate run`: the whole suite on this machine until Ctrl-C."""

from __future__ import annotations

import argparse
import asyncio
import signal

from tollgate.cli.local_suite import local_suite


async def _run(default_ports: bool) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for sig in (signal.SIGINT, signal.SIGTERM):
        loop.add_signal_handler(sig, stop.set)
    async with local_suite(default_ports=default_ports) as suite:
        print("Tollgate is running.\n")
        print(suite.describe())
        print(f"\ngateway:   {suite.gateway}")
        print(f"HTTP door: {suite.http_url}   (Anthropic SDKs: base_url=..., api_key=<API key>)")
        print(f"API key:   {suite.api_key}   (tenant acme-realty)")
        print(f"admin key: {suite.admin_key}")
        if suite.emulator_url:
            print(
                f"Claude:    Anthropic API emulator at {suite.emulator_url} (no ANTHROPIC_API_KEY)"
            )
        print("\nCtrl-C stops everything.", flush=True)
        await stop.wait()
        print("stopping ...", flush=True)


def _handle(args: argparse.Namespace) -> int:
    asyncio.run(_run(default_ports=not args.free_ports))
    return 0


def register(subparsers: argparse._SubParsersAction) -> None:
    parser = subparsers.add_parser("run", help="run every service locally until Ctrl-C")
    parser.add_argument(
        "--free-ports", action="store_true", help="pick free ports instead of 50051-50057"
    )
    parser.set_defaults(handler=_handle)
