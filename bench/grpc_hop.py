"""CPU per gRPC hop: one unary Tollgate RPC, client and server in one process, per setup.

Every governed request makes about five service-to-service calls, so the cost of one call (the
caller's channel and stub plus the callee's server, interceptors, metrics, span and access log)
is paid five times. This measures it for three setups, interleaved round by round so that the
load of a shared machine hits each alike:

- **bare**: a `grpc.aio` server and channel without interceptors (gRPC's own cost);
- **baseline**: the suite's server (`server.start_server`) and channel (`channels.open_channel`)
  as the baseline ref (default `main`) builds them;
- **this tree**: the same two calls as the working tree builds them.

The baseline runs in a second worker process whose `tollgate.common` is the baseline ref's
`libs/common/src`, extracted with `git archive`; bare is measured in both workers and pooled.
The RPC is `CacheService/ExactStats` answered by a trivial servicer over loopback, called through
the generated stub as the gateway calls its backends. Logs go to a file as under the local
runner; no OTLP endpoint is set (spans are not recorded, as in the local suite). CPU is the
worker process's user + system time over the calls (every thread: the event loop and gRPC's
own), divided by the calls.

    uv run python -m bench.grpc_hop [--calls 1000] [--rounds 10] [--concurrency 1]
                                    [--baseline-ref main]
"""

from __future__ import annotations

import argparse
import asyncio
import os
import statistics
import subprocess
import sys
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

ROOT = Path(__file__).resolve().parent.parent
COMMON_SRC = "libs/common/src"


# ---------------------------------------------------------------- worker (one process per tree)


async def _bare_pair() -> tuple[Any, Any]:
    import grpc

    from tollgate.v1 import cache_pb2_grpc

    server = grpc.aio.server()
    cache_pb2_grpc.add_CacheServiceServicer_to_server(_servicer(), server)
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    return server, grpc.aio.insecure_channel(f"127.0.0.1:{port}")


async def _suite_pair() -> tuple[Any, Any]:
    """The server and channel every service of the suite uses, from this process's tree."""
    from tollgate.common.channels import open_channel
    from tollgate.common.server import GrpcService, Registration, start_server
    from tollgate.common.settings import ServiceSettings
    from tollgate.v1 import cache_pb2, cache_pb2_grpc

    full_name = cache_pb2.DESCRIPTOR.services_by_name["CacheService"].full_name
    service = GrpcService(
        "bench",
        [Registration(full_name, cache_pb2_grpc.add_CacheServiceServicer_to_server, _servicer())],
    )
    running = await start_server(service, ServiceSettings(host="127.0.0.1", port=0))
    return running.server, open_channel(running.address)


def _servicer() -> Any:
    from tollgate.v1 import cache_pb2, cache_pb2_grpc

    class Stats(cache_pb2_grpc.CacheServiceServicer):
        async def ExactStats(self, request: Any, context: Any) -> Any:
            return cache_pb2.ExactStatsResponse(hits=1, entries=2)

    return Stats()


async def _calls(stub: Any, calls: int, concurrency: int) -> None:
    from tollgate.v1 import cache_pb2

    request = cache_pb2.ExactStatsRequest(tenant_id="acme")

    async def client(count: int) -> None:
        for _ in range(count):
            await stub.ExactStats(request, timeout=10)

    await asyncio.gather(*(client(calls // concurrency) for _ in range(concurrency)))


async def _worker(commands: IO[str], replies: IO[str]) -> None:
    """Answer "<setup> <calls> <concurrency>" lines with "<cpu µs/call> <wall µs/call>"."""
    from tollgate.common.logs import configure_logging
    from tollgate.v1 import cache_pb2_grpc

    configure_logging("bench")  # onto sys.stdout, which main() pointed at a file
    pairs = {"bare": await _bare_pair(), "suite": await _suite_pair()}
    stubs = {name: cache_pb2_grpc.CacheServiceStub(channel) for name, (_, channel) in pairs.items()}
    loop = asyncio.get_running_loop()
    while line := await loop.run_in_executor(None, commands.readline):
        setup, calls, concurrency = line.split()
        stub = stubs[setup]
        await _calls(stub, 200, int(concurrency))  # warm: connection, wrapped handlers
        cpu, wall = time.process_time(), time.perf_counter()
        await _calls(stub, int(calls), int(concurrency))
        cpu, wall = time.process_time() - cpu, time.perf_counter() - wall
        replies.write(f"{cpu / int(calls) * 1e6:.1f} {wall / int(calls) * 1e6:.1f}\n")
        replies.flush()
    for server, channel in pairs.values():
        await channel.close()
        await server.stop(None)


def _run_worker() -> None:
    import uvloop

    replies = os.fdopen(os.dup(sys.stdout.fileno()), "w")
    with tempfile.TemporaryDirectory() as directory, open(Path(directory) / "out.log", "w") as log:
        sys.stdout = log  # the access log, as a service's stdout under the local runner
        with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
            runner.run(_worker(sys.stdin, replies))


# ---------------------------------------------------------------- driver


@dataclass
class _Worker:
    label: str
    process: subprocess.Popen[str]
    samples: dict[str, list[float]] = field(default_factory=dict)

    def measure(self, setup: str, calls: int, concurrency: int) -> None:
        assert self.process.stdin is not None
        assert self.process.stdout is not None
        self.process.stdin.write(f"{setup} {calls} {concurrency}\n")
        self.process.stdin.flush()
        cpu, _wall = self.process.stdout.readline().split()
        self.samples.setdefault(setup, []).append(float(cpu))


def _start_worker(label: str, common_src: Path) -> _Worker:
    # The tree's own libs/common/src first, so `tollgate.common` is that tree's (`tollgate` is
    # a namespace package); the rest of the workspace comes from the venv as usual.
    path = os.pathsep.join([str(common_src), str(ROOT), os.environ.get("PYTHONPATH", "")])
    process = subprocess.Popen(
        [sys.executable, "-m", "bench.grpc_hop", "--worker"],
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        text=True,
        env={**os.environ, "PYTHONPATH": path},
        cwd=ROOT,
    )
    return _Worker(label, process)


def _extract(ref: str, into: Path) -> Path:
    archive = subprocess.run(
        ["git", "-C", str(ROOT), "archive", ref, COMMON_SRC], check=True, capture_output=True
    ).stdout
    subprocess.run(["tar", "-x", "-C", str(into)], input=archive, check=True)
    return into / COMMON_SRC


def run(calls: int, rounds: int, concurrency: int, baseline_ref: str) -> str:
    with tempfile.TemporaryDirectory() as directory:
        baseline = _start_worker(baseline_ref, _extract(baseline_ref, Path(directory)))
        current = _start_worker("this tree", ROOT / COMMON_SRC)
        try:
            for _ in range(rounds):
                for worker in (baseline, current):
                    worker.measure("bare", calls, concurrency)
                    worker.measure("suite", calls, concurrency)
        finally:
            for worker in (baseline, current):
                assert worker.process.stdin is not None
                worker.process.stdin.close()
                worker.process.wait(timeout=30)
    return _table(calls, rounds, concurrency, baseline, current)


def _table(calls: int, rounds: int, concurrency: int, baseline: _Worker, current: _Worker) -> str:
    # Bare runs no code of either tree, so both workers' rounds are one sample for its row.
    bare = baseline.samples["bare"] + current.samples["bare"]

    def row(label: str, values: list[float], paired: list[float]) -> str:
        """`paired`: the bare figure measured just before each of `values` in the same worker,
        so a burst of load from elsewhere that hits one round hits both of its figures."""
        each = ", ".join(f"{v:.0f}" for v in values)
        added = statistics.median(v - b for v, b in zip(values, paired, strict=True))
        ratio = statistics.median(v / b for v, b in zip(values, paired, strict=True))
        return (
            f"| {label} | {statistics.median(values):.0f} | {min(values):.0f} "
            f"| {added:+.0f} | {ratio:.2f} | {each} |"
        )

    return "\n".join(
        [
            f"CPU per unary call (client + server, one process, {calls} calls per round, "
            f"{concurrency} in flight, {rounds} interleaved rounds):",
            "",
            "| setup | µs CPU per call, median | lowest round | µs above bare, paired median "
            "| ratio to bare, paired median | each round |",
            "|---|---:|---:|---:|---:|---|",
            row("bare grpc.aio, no interceptors (both workers)", bare, bare),
            row(
                f"suite's server and channel on {baseline.label}",
                baseline.samples["suite"],
                baseline.samples["bare"],
            ),
            row(
                "suite's server and channel on this tree",
                current.samples["suite"],
                current.samples["bare"],
            ),
            "",
            "(Paired: each round's figure against the bare round its worker ran just before it, "
            "so load from elsewhere that hits a round hits both.)",
        ]
    )


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.grpc_hop", description=__doc__)
    parser.add_argument("--calls", type=int, default=1000)
    parser.add_argument("--rounds", type=int, default=10)
    parser.add_argument("--concurrency", type=int, default=1)
    parser.add_argument("--baseline-ref", default="main")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.calls % args.concurrency:
        # Each client makes calls // concurrency calls, and CPU is divided by --calls.
        parser.error("--calls must be a multiple of --concurrency")
    if args.worker:
        _run_worker()
        return ""
    report = run(args.calls, args.rounds, args.concurrency, args.baseline_ref)
    print(report)
    return report


if __name__ == "__main__":
    main()
