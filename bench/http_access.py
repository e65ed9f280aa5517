"""Cost of the HTTP door's access log and request metrics per request.

Two in-process aiohttp servers with one trivial route (`GET /v1/models/{model_id}`, a small JSON
answer), one with the door's `access_log` middleware and one without, called sequentially by one
aiohttp client over loopback; logging and telemetry configured as every service configures them,
the log going to a file. The middleware is measured twice: as deployed, and with the log level
above INFO, which leaves only the metrics and so shows what the log line costs. The baseline is
the server without the middleware, in the same run (interleaved rounds, so drift hits all alike).
CPU is this process's (client and server share it), so the added CPU per request is the
middleware's own.

    uv run python -m bench.http_access [--requests 4000]
"""

from __future__ import annotations

import argparse
import asyncio
import logging
import tempfile
import time
from pathlib import Path

import aiohttp
from aiohttp import web

from bench.interceptor import log_to_file
from bench.suite_tools import percentile
from tollgate.common.telemetry import configure_telemetry
from tollgate.gateway.http.access import access_log


async def _model(request: web.Request) -> web.Response:
    return web.json_response({"type": "model", "id": request.match_info["model_id"]})


async def _server(logged: bool) -> tuple[web.AppRunner, str]:
    app = web.Application(middlewares=[access_log()] if logged else [])
    app.router.add_get("/v1/models/{model_id}", _model)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    return runner, f"http://127.0.0.1:{runner.addresses[0][1]}"


async def _round(base_url: str, requests: int) -> tuple[list[float], float]:
    """Latencies in µs, and CPU seconds of this process over the round."""
    async with aiohttp.ClientSession(base_url) as session:
        for _ in range(50):
            async with session.get("/v1/models/claude-sonnet-5-5") as response:
                await response.read()
        latencies = []
        cpu = time.process_time()
        for _ in range(requests):
            started = time.perf_counter()
            async with session.get("/v1/models/claude-sonnet-5-5") as response:
                await response.read()
            latencies.append((time.perf_counter() - started) * 1e6)
        return latencies, time.process_time() - cpu


# The configurations measured: label, middleware on, root log level.
CASES = (
    ("no middleware (baseline)", False, logging.INFO),
    ("access_log", True, logging.INFO),
    ("access_log, log level WARNING (metrics only)", True, logging.WARNING),
)


async def run(requests: int, rounds: int = 4) -> str:
    configure_telemetry("bench")
    plain, plain_url = await _server(False)
    logged, logged_url = await _server(True)
    samples: dict[str, list[float]] = {label: [] for label, _, _ in CASES}
    cpu: dict[str, float] = dict.fromkeys(samples, 0.0)
    try:
        with tempfile.TemporaryDirectory() as directory:
            log_to_file(Path(directory))
            for _ in range(rounds):
                for label, with_log, level in CASES:
                    logging.getLogger().setLevel(level)
                    url = logged_url if with_log else plain_url
                    latencies, seconds = await _round(url, requests // rounds)
                    samples[label] += latencies
                    cpu[label] += seconds
    finally:
        await plain.cleanup()
        await logged.cleanup()
    base = samples[CASES[0][0]]
    base_cpu = cpu[CASES[0][0]] * 1e6 / len(base)
    lines = [
        f"HTTP door access log + metrics, {requests} sequential GETs each over loopback, one "
        "process (client and server share the event loop and the CPU figure):",
        "",
        "| server | p50 µs | p99 µs | CPU µs/request | p50 vs none | added CPU µs/request |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for label, _, _ in CASES:
        values = samples[label]
        per_request = cpu[label] * 1e6 / len(values)
        lines.append(
            f"| {label} | {percentile(values, 50):.0f} | {percentile(values, 99):.0f} "
            f"| {per_request:.0f} | {percentile(values, 50) / percentile(base, 50):.2f} "
            f"| {per_request - base_cpu:+.0f} |"
        )
    return "\n".join(lines)


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.http_access", description=__doc__)
    parser.add_argument("--requests", type=int, default=4000)
    args = parser.parse_args(argv)
    report = asyncio.run(run(args.requests))
    print(report)
    return report


if __name__ == "__main__":
    main()
