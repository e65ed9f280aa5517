"""Command line: ``python -m tollgate.emulator --port 8787``.

Prints ``emulator listening on http://HOST:PORT`` once ready (scripts wait for
that line) and shuts down cleanly on SIGTERM or SIGINT.
"""

from __future__ import annotations

import argparse
import asyncio
import signal
import sys
from collections.abc import Sequence

import uvloop

from tollgate.emulator.config import EmulatorConfig, LatencyConfig
from tollgate.emulator.server import EmulatorServer


def parse_args(argv: Sequence[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        prog="python -m tollgate.emulator",
        description="Anthropic Messages API emulator for tests, demos and benchmarks.",
    )
    parser.add_argument("--host", default="127.0.0.1")
    parser.add_argument("--port", type=int, default=8787, help="0 picks a free port")
    parser.add_argument("--ttft-ms", type=float, default=0.0, help="time to first token")
    parser.add_argument("--tokens-per-second", type=float, default=0.0, help="0 is unpaced")
    parser.add_argument("--seed", type=int, default=0, help="seed of the fault generator")
    parser.add_argument("--max-concurrency", type=int, default=None, help="429 beyond this")
    parser.add_argument(
        "--requests-per-minute",
        type=int,
        default=None,
        help="the organisation's request limit (429 beyond it); default: a generous one",
    )
    parser.add_argument(
        "--batch-delay-s", type=float, default=0.0, help="wait before processing a batch"
    )
    return parser.parse_args(argv)


def config_from_args(args: argparse.Namespace) -> EmulatorConfig:
    config = EmulatorConfig(
        latency=LatencyConfig(ttft_ms=args.ttft_ms, tokens_per_second=args.tokens_per_second),
        seed=args.seed,
        max_concurrency=args.max_concurrency,
        batch_processing_delay_s=args.batch_delay_s,
    )
    if args.requests_per_minute is not None:
        config.rate_limits.requests_per_minute = args.requests_per_minute
    # Run the flags through the same checks as a control-API patch.
    return EmulatorConfig.from_dict(config.to_dict())


async def serve(config: EmulatorConfig, host: str, port: int) -> None:
    stop = asyncio.Event()
    loop = asyncio.get_running_loop()
    for signum in (signal.SIGTERM, signal.SIGINT):
        loop.add_signal_handler(signum, stop.set)
    async with EmulatorServer(config, host=host, port=port) as server:
        print(f"emulator listening on {server.base_url}", flush=True)
        await stop.wait()


def main(argv: Sequence[str] | None = None) -> int:
    args = parse_args(argv)
    try:
        config = config_from_args(args)
    except ValueError as error:
        print(f"invalid option: {error}", file=sys.stderr)
        return 2
    # uvloop's loop runs the same aiohttp server for less CPU a request: the emulator shares the
    # machine with what it stands in front of in tests and benchmarks.
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(config, args.host, args.port))
    return 0


if __name__ == "__main__":
    sys.exit(main())
