"""Cost of the shared server interceptor (access log, metrics, span, error mapping) per RPC.

An in-process grpc.aio server with one trivial unary method (echo of raw bytes), called
sequentially by one client over loopback, with and without `ServerInterceptor`; logging and
telemetry are configured as every service configures them, the log going to a file as it does
under the local runner or a container runtime. The baseline is the same server without the
interceptor, measured in the same run (interleaved rounds, so drift hits both alike).

    uv run python -m bench.interceptor [--calls 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import grpc

from bench.suite_tools import percentile
from tollgate.common.interceptors import ServerInterceptor
from tollgate.common.logs import JsonFormatter
from tollgate.common.telemetry import configure_telemetry

METHOD = "/bench.v1.Echo/Echo"


async def _echo(request: bytes, context: grpc.aio.ServicerContext) -> bytes:
    return request


def _handlers() -> grpc.GenericRpcHandler:
    return grpc.method_handlers_generic_handler(
        "bench.v1.Echo", {"Echo": grpc.unary_unary_rpc_method_handler(_echo)}
    )


async def _server(intercepted: bool) -> tuple[grpc.aio.Server, str]:
    interceptors = [ServerInterceptor("bench")] if intercepted else []
    server = grpc.aio.server(interceptors=interceptors)
    server.add_generic_rpc_handlers((_handlers(),))
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, f"127.0.0.1:{port}"


async def _round(address: str, calls: int) -> list[float]:
    async with grpc.aio.insecure_channel(address) as channel:
        echo = channel.unary_unary(METHOD)
        metadata = (("x-request-id", "req_bench"), ("authorization", "Bearer x"))
        for _ in range(50):
            await echo(b"ping", metadata=metadata)
        latencies = []
        for _ in range(calls):
            started = time.perf_counter()
            await echo(b"ping", metadata=metadata)
            latencies.append((time.perf_counter() - started) * 1e6)
        return latencies


def log_to_file(directory: Path) -> None:
    handler = logging.StreamHandler((directory / "access.log").open("a", encoding="utf-8"))
    handler.setFormatter(JsonFormatter("bench"))
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(logging.INFO)


async def run(calls: int, rounds: int = 4) -> str:
    configure_telemetry("bench")
    plain, plain_address = await _server(False)
    wrapped, wrapped_address = await _server(True)
    samples: dict[bool, list[float]] = {False: [], True: []}
    try:
        with tempfile.TemporaryDirectory() as directory:
            log_to_file(Path(directory))
            for _ in range(rounds):
                samples[False] += await _round(plain_address, calls // rounds)
                samples[True] += await _round(wrapped_address, calls // rounds)
    finally:
        await plain.stop(None)
        await wrapped.stop(None)
    base, cost = samples[False], samples[True]
    lines = [
        f"Server interceptor cost, {calls} sequential unary calls each over loopback, one process "
        "(client and server share the event loop):",
        "",
        "| server | p50 µs | p99 µs | mean µs | p50 vs no interceptor | added p50 µs |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, values in (("no interceptor (baseline)", base), ("ServerInterceptor", cost)):
        mean = sum(values) / len(values)
        lines.append(
            f"| {label} | {percentile(values, 50):.0f} | {percentile(values, 99):.0f} "
            f"| {mean:.0f} | {percentile(values, 50) / percentile(base, 50):.2f} "
            f"| {percentile(values, 50) - percentile(base, 50):+.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.interceptor", description=__doc__)
    parser.add_argument("--calls", type=int, default=4000)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.calls))
    print(report)
    return report


if __name__ == "__main__":
    main()
