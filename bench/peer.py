"""Tollgate beside a peer: LiteLLM's proxy and Tollgate's setups against the same emulator.

Every setup is driven the same way, in one run: unique prompts (no cache can answer), one client
for the added latency (against the official `anthropic` SDK calling the same emulator directly,
measured just before), then 16 clients for the rate and the CPU. Server CPU per request is the
user + system time of every serving process — each Tollgate service, or LiteLLM's proxy with
its children — read from /proc before and after the 16-client run and divided by the requests
it served; the load generator and the emulator are not counted. The embedded Redis and Postgres
behind the cache and the ledger are counted apart ("stores"). CPU per request is the figure to
trust on a loaded machine: the rate and latencies move with whatever else runs, the CPU a
request costs much less. Still, it moves by up to ±20% between runs of the same code, so the
16-client run is repeated (`--rounds`, 3 by default) and a cell reports its median round (the
rate, latencies and CPU of that one round) with the spread of the rounds beside it; the goals are
judged on the median.

LiteLLM's proxy (`litellm[proxy]`, pinned below) is installed into its own virtualenv under
.tools/ on first use, never into the workspace: one worker, a master key, nothing else.
Tollgate runs each setup in both deployments: seven processes (one per service, as the chart
deploys them by default) and one process (`python -m tollgate.single_process`, the chart's
`singleProcess` mode), whose backends the gateway calls in-process instead of over gRPC.
`--baseline DIR` runs Tollgate's setups a second time with another checkout's code (its
.venv), interleaved with this checkout's, for a before/after in one run.

The stack's floor (`bench.stack_floor`) is measured in the same run, in each deployment's shape:
the same API and client, answered by grpc.aio, aiohttp and json alone — one process making the
HTTP call, or a front process calling it over one gRPC hop. It is shown beside pass-through in
the goals table: what no pass-through built on this stack costs less than, on this machine at
this moment, so a verdict tells the stack's share from Tollgate's.

    uv run python -m bench.peer [--quick] [--rounds N] [--baseline ../main-checkout]
                                [--no-litellm] [--no-floor] [--setup SETUP]
                                [--deployment {seven processes,one process}]
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import os
import subprocess
import sys
import tempfile
from collections.abc import AsyncIterator, Awaitable, Callable, Sequence
from dataclasses import dataclass, field
from functools import partial
from pathlib import Path

import aiohttp
import anthropic
import grpc
import httpx
import psutil
import yaml

from bench.checkouts import checkout_name, checkout_python
from bench.overhead import Run, ask_unique, closed_loop, sdk_body, unique_text
from bench.progress import phase
from bench.suite_tools import SETUPS, serving_processes, set_emulator_latency, suite_processes
from tollgate.cli.local_suite import EMULATOR, free_port, listens, local_suite
from tollgate.cli.suite_failure import SuiteError
from tollgate.client import TollgateClient
from tollgate.client.errors import TollgateError

ROOT = Path(__file__).resolve().parent.parent
# 1.107.0 was a compromised release on PyPI; the pin is the last release before it.
LITELLM_REQUIREMENT = "litellm[proxy]==1.106.2"
LITELLM_VENV = ROOT / ".tools" / "litellm-venv"
MODEL = "claude-sonnet-5-5"
MASTER_KEY = "sk-bench-master-key"
CLIENTS = 16
ROUNDS = 3  # 16-client runs per cell; the median one is reported
LITELLM = "LiteLLM proxy (1 worker, master key only)"
PASS_THROUGH, GOVERNANCE, EVERYTHING = list(SETUPS)
# (setup, goal on server CPU ms per request), from the issue.
CPU_GOALS = {PASS_THROUGH: 1.0, GOVERNANCE: 2.0, EVERYTHING: 4.0}
THROUGHPUT_GOAL = 5.0  # budgets + exact cache req/s over LiteLLM's, at 16 clients
# Tollgate's two deployments: whether the services run as one process.
SEVEN = "seven processes"
ONE = "one process"
DEPLOYMENTS = {SEVEN: False, ONE: True}
ALL_SERVICES = "all services (one process)"
# bench.stack_floor: the same API answered by the stack alone, in each deployment's shape.
FLOOR = "stack floor (bare grpc.aio + aiohttp, no Tollgate code)"
FLOOR_FRONT, FLOOR_HOP = "floor: front server", "floor: server behind a hop"
EMULATOR_COLUMN, LOAD_COLUMN = "emulator (not counted)", "load generator (not counted)"


@dataclass
class Figures:
    setup: str
    code: str  # "LiteLLM x.y.z", "this checkout", "baseline <commit>"
    direct: Run
    one_client: Run
    loaded: Run
    service_cpu_seconds: dict[str, float]
    store_cpu_seconds: float
    rss_idle: dict[str, int] = field(default_factory=dict)
    rss_loaded: dict[str, int] = field(default_factory=dict)
    # Requests of the 16-client run on which the gateway skipped an optimization because its
    # service failed or was too slow (fail-open): their CPU is not the setup's CPU.
    skipped: int = 0
    deployment: str = ""  # SEVEN or ONE for Tollgate; empty for LiteLLM
    # Server CPU ms per request of every 16-client round, in the order run (the cell is the
    # median one); empty when the cell was measured once.
    round_cpu_ms: list[float] = field(default_factory=list)
    # CPU seconds of the processes that share the machine but are not the server under test
    # (the emulator, the load generator), in the median round.
    beside_cpu_seconds: dict[str, float] = field(default_factory=dict)

    @property
    def label(self) -> str:
        """The setup, and for Tollgate how it was deployed."""
        return f"{self.setup}, {self.deployment}" if self.deployment else self.setup

    def cpu_ms(self, seconds: float) -> float:
        return per_request_ms(seconds, self.loaded)

    @property
    def service_cpu_ms(self) -> float:
        return self.cpu_ms(sum(self.service_cpu_seconds.values()))

    @property
    def spread(self) -> str:
        """The rounds' range, e.g. " (2.05 to 2.31)", or "" for one round."""
        if len(self.round_cpu_ms) < 2:
            return ""
        return f" ({min(self.round_cpu_ms):.2f} to {max(self.round_cpu_ms):.2f})"


def per_request_ms(cpu_seconds: float, run: Run) -> float:
    """CPU milliseconds per request served in `run`."""
    return cpu_seconds * 1000 / max(1, len(run.latencies_ms))


def tree_cpu_seconds(processes: list[psutil.Process]) -> float:
    """User + system seconds of these processes and their descendants (reaped children too)."""
    total = 0.0
    seen: set[int] = set()
    for root in processes:
        with contextlib.suppress(psutil.NoSuchProcess):
            for process in [root, *root.children(recursive=True)]:
                if process.pid in seen:
                    continue
                seen.add(process.pid)
                with contextlib.suppress(psutil.NoSuchProcess):
                    times = process.cpu_times()
                    total += times.user + times.system + times.children_user
                    total += times.children_system
    return total


def own_cpu_seconds(process: psutil.Process) -> float:
    """User + system seconds of this process alone: the load generator is this benchmark's own
    process, whose children are the servers under test."""
    times = process.cpu_times()
    return times.user + times.system


def rss(processes: dict[str, psutil.Process]) -> dict[str, int]:
    """Resident memory of each named process with its children (LiteLLM's workers)."""
    sizes = {}
    for name, root in processes.items():
        with contextlib.suppress(psutil.NoSuchProcess):
            family = [root, *root.children(recursive=True)]
            sizes[name] = sum(p.memory_info().rss for p in family if p.is_running())
    return sizes


@dataclass(frozen=True)
class Served:
    """A running server under test: how to call it, and which processes serve it."""

    call: Callable[[], Awaitable[object]]
    services: dict[str, psutil.Process]
    stores: list[psutil.Process]
    emulator_url: str
    # Processes beside the server under test whose CPU is shown but not counted: the emulator
    # and the load generator share the two cores with it, so they bound its rate too.
    beside: dict[str, psutil.Process]
    skipped: Callable[[], int] = lambda: 0  # requests served so far with a step skipped


@dataclass(frozen=True)
class _Round:
    loaded: Run
    service_cpu: dict[str, float]
    store_cpu: float
    skipped: int
    beside_cpu: dict[str, float]

    @property
    def cpu_ms(self) -> float:
        return per_request_ms(sum(self.service_cpu.values()), self.loaded)


def median_round(rounds: Sequence[_Round]) -> _Round:
    """The round whose CPU per request is the median (the upper one of an even count)."""
    return sorted(rounds, key=lambda r: r.cpu_ms)[len(rounds) // 2]


async def _loaded_round(served: Served, seconds: float) -> _Round:
    """One 16-client run and the CPU its serving processes and stores used."""
    service_before = {n: tree_cpu_seconds([p]) for n, p in served.services.items()}
    store_before = tree_cpu_seconds(served.stores)
    beside_before = {n: own_cpu_seconds(p) for n, p in served.beside.items()}
    skipped_before = served.skipped()
    loaded = await closed_loop(served.call, CLIENTS, seconds, warm_up=0)
    return _Round(
        loaded,
        {n: tree_cpu_seconds([p]) - service_before[n] for n, p in served.services.items()},
        tree_cpu_seconds(served.stores) - store_before,
        served.skipped() - skipped_before,
        {n: own_cpu_seconds(p) - beside_before[n] for n, p in served.beside.items()},
    )


async def measure(
    setup: str,
    code: str,
    served: Served,
    seconds: float,
    deployment: str = "",
    rounds: int = ROUNDS,
) -> Figures:
    await set_emulator_latency(served.emulator_url, 0.0, 0.0)
    sdk = anthropic.AsyncAnthropic(
        base_url=served.emulator_url, api_key="bench", max_retries=0, timeout=60
    )
    try:

        async def direct() -> None:
            await sdk.messages.create(**sdk_body(MODEL, unique_text()))

        await closed_loop(served.call, CLIENTS, 1.0)  # warm-up: connections, first calls
        rss_idle = rss(served.services)
        direct_run = await closed_loop(direct, 1, seconds)
        one = await closed_loop(served.call, 1, seconds)
        measured = [await _loaded_round(served, seconds) for _ in range(max(1, rounds))]
        rss_loaded = rss(served.services)
    finally:
        await sdk.close()
    median = median_round(measured)
    return Figures(
        setup,
        code,
        direct_run,
        one,
        median.loaded,
        median.service_cpu,
        median.store_cpu,
        rss_idle,
        rss_loaded,
        median.skipped,
        deployment,
        [r.cpu_ms for r in measured] if len(measured) > 1 else [],
        median.beside_cpu,
    )


def store_processes(clients: list[psutil.Process]) -> list[psutil.Process]:
    """The servers these processes talk to: the embedded Redis (over TCP) and Postgres (over a
    Unix socket, `?host=<dir>` in the DSN in their environment). Both daemonize, so they are
    nobody's children here; they are found by what they listen on."""
    ports = {
        connection.raddr.port
        for client in clients
        for connection in client.net_connections(kind="tcp")
        if connection.raddr and connection.raddr.ip == "127.0.0.1"
    }
    socket_dirs = {
        value.split("host=", 1)[1].split("&", 1)[0]
        for client in clients
        for value in client.environ().values()
        if value.startswith("postgresql://") and "host=/" in value
    }
    listeners = {
        connection.pid
        for connection in psutil.net_connections(kind="inet") + psutil.net_connections("unix")
        if connection.pid is not None
        and (
            (connection.status == psutil.CONN_LISTEN and connection.laddr.port in ports)
            if not isinstance(connection.laddr, str)
            else any(connection.laddr.startswith(d + "/") for d in socket_dirs)
        )
    }
    return [psutil.Process(pid) for pid in sorted(listeners)]


async def tollgate(
    setup: str,
    python: str,
    code: str,
    seconds: float,
    deployment: str = SEVEN,
    rounds: int = ROUNDS,
) -> Figures:
    flags = SETUPS[setup]
    async with local_suite(
        flags=flags, python=python, single_process=DEPLOYMENTS[deployment]
    ) as suite:
        services = {
            # One process serves every service: its column says so.
            (ALL_SERVICES if DEPLOYMENTS[deployment] else name): process
            for name, process in serving_processes(suite).items()
        }
        emulator = suite_processes(suite)[EMULATOR]
        stores = store_processes(list(services.values()))
        async with TollgateClient(suite.gateway, suite.api_key, timeout=60) as client:
            skipped = 0

            async def call() -> None:
                nonlocal skipped
                result = await ask_unique(client)
                if any(r.detail.startswith("skipped") for r in result.account.optimizations):
                    skipped += 1

            served = Served(
                call, services, stores, suite.emulator_url, beside(emulator), lambda: skipped
            )
            return await measure(setup, code, served, seconds, deployment, rounds)


def litellm_version() -> str:
    python = LITELLM_VENV / "bin" / "python"
    if not python.exists():
        phase(f"installing {LITELLM_REQUIREMENT} into {LITELLM_VENV} ...")
        uv = [sys.executable, "-m", "uv"]
        subprocess.run([*uv, "venv", "-q", "-p", sys.executable, str(LITELLM_VENV)], check=True)
        subprocess.run(
            [*uv, "pip", "install", "-q", "--python", str(python), LITELLM_REQUIREMENT],
            check=True,
        )
    script = "import importlib.metadata as m; print(m.version('litellm'))"
    return subprocess.run(
        [str(python), "-c", script], check=True, capture_output=True, text=True
    ).stdout.strip()


def _tail(log: Path) -> str:
    return log.read_text(errors="replace")[-2000:]


@contextlib.asynccontextmanager
async def _process(
    command: list[str], log: Path, ready: Callable[[], Awaitable[bool]], env: dict[str, str]
) -> AsyncIterator[asyncio.subprocess.Process]:
    """Start `command`, wait up to 120 s until `ready`, and stop it (SIGTERM, then kill)."""
    with log.open("ab") as out:
        process = await asyncio.create_subprocess_exec(
            *command, stdout=out, stderr=subprocess.STDOUT, env=env, start_new_session=True
        )
    try:
        for _ in range(1200):
            if process.returncode is not None:
                tail = _tail(log)
                raise RuntimeError(f"{command[0]} exited ({process.returncode}):\n{tail}")
            if await ready():
                break
            await asyncio.sleep(0.1)
        else:
            raise RuntimeError(f"{command[0]} not ready in 120 s; log: {log}")
        yield process
    finally:
        if process.returncode is None:
            process.terminate()
            try:
                await asyncio.wait_for(process.wait(), 15)
            except TimeoutError:
                process.kill()
                await process.wait()


def _answers(url: str) -> Callable[[], Awaitable[bool]]:
    async def probe() -> bool:
        try:
            async with httpx.AsyncClient(timeout=2) as http:
                return (await http.get(url)).status_code < 500
        except httpx.HTTPError:
            return False

    return probe


def beside(emulator: psutil.Process) -> dict[str, psutil.Process]:
    """The processes a cell shows beside its servers without counting them."""
    return {EMULATOR_COLUMN: emulator, LOAD_COLUMN: psutil.Process()}


@dataclass(frozen=True)
class Emulator:
    url: str
    process: psutil.Process


@contextlib.asynccontextmanager
async def emulator_process(workdir: Path, env: dict[str, str]) -> AsyncIterator[Emulator]:
    """The emulator in a process of its own until the block ends."""
    port = free_port()
    command = [sys.executable, "-m", "tollgate.emulator", "--host", "127.0.0.1"]
    command += ["--port", str(port)]
    url = f"http://127.0.0.1:{port}"
    async with _process(command, workdir / "emulator.log", _answers(url), env) as started:
        yield Emulator(url, psutil.Process(started.pid))


async def litellm(version: str, seconds: float, rounds: int = ROUNDS) -> Figures:
    env = {**os.environ, "LITELLM_LOG": "ERROR"}
    with tempfile.TemporaryDirectory(prefix="bench-peer-") as folder:
        workdir = Path(folder)
        async with emulator_process(workdir, env) as emulator:
            return await _litellm_against(emulator, workdir, env, version, seconds, rounds)


async def _litellm_against(
    emulator: Emulator,
    workdir: Path,
    env: dict[str, str],
    version: str,
    seconds: float,
    rounds: int,
) -> Figures:
    """LiteLLM's proxy in front of a running emulator, measured like a Tollgate cell."""
    port = free_port()
    config = {
        "model_list": [
            {
                "model_name": MODEL,
                "litellm_params": {
                    "model": f"anthropic/{MODEL}",
                    "api_base": emulator.url,
                    "api_key": "emulator-key",
                },
            }
        ],
        "general_settings": {"master_key": MASTER_KEY},
        # LiteLLM's model map refuses temperature 0 for this model name: drop it (the
        # prompts are unique, so no cache could have used it anyway).
        "litellm_settings": {"telemetry": False, "drop_params": True},
    }
    (workdir / "config.yaml").write_text(yaml.safe_dump(config))
    proxy_command = [str(LITELLM_VENV / "bin" / "litellm"), "--config"]
    proxy_command += [str(workdir / "config.yaml"), "--host", "127.0.0.1"]
    proxy_command += ["--port", str(port), "--num_workers", "1"]
    async with _process(
        proxy_command,
        workdir / "litellm.log",
        _answers(f"http://127.0.0.1:{port}/health/liveliness"),
        env,
    ) as proxy:
        assert proxy.pid is not None
        client = anthropic.AsyncAnthropic(
            base_url=f"http://127.0.0.1:{port}", api_key=MASTER_KEY, max_retries=0, timeout=60
        )
        try:

            async def call() -> None:
                await client.messages.create(**sdk_body(MODEL, unique_text()))

            proxy_process = {"litellm": psutil.Process(proxy.pid)}
            served = Served(call, proxy_process, [], emulator.url, beside(emulator.process))
            return await measure(LITELLM, f"LiteLLM {version}", served, seconds, rounds=rounds)
        finally:
            await client.close()


@dataclass(frozen=True)
class FloorServers:
    """The emulator and bench.stack_floor in front of it, running."""

    emulator: Emulator
    address: str  # the front server's, which the client calls
    processes: dict[str, psutil.Process]  # the serving processes, by their table column


@contextlib.asynccontextmanager
async def floor_servers(
    workdir: Path, env: dict[str, str], hop: bool
) -> AsyncIterator[FloorServers]:
    """The stack floor (bench.stack_floor) in a deployment's shape: one server making the HTTP
    call, or (`hop`) a front server calling it over one gRPC hop."""
    front, behind = free_port(), free_port()
    async with contextlib.AsyncExitStack() as stack:
        emulator = await stack.enter_async_context(emulator_process(workdir, env))

        async def server(port: int, log: str, *extra: str) -> psutil.Process:
            command = [sys.executable, "-m", "bench.stack_floor", "--port", str(port)]
            command += ["--upstream", emulator.url, "--model", MODEL, *extra]
            ready = partial(listens, port)
            started = await stack.enter_async_context(_process(command, workdir / log, ready, env))
            return psutil.Process(started.pid)

        behind_hop = {FLOOR_HOP: await server(behind, "hop.log")} if hop else {}
        forward = ("--next", f"127.0.0.1:{behind}") if hop else ()
        processes = {FLOOR_FRONT: await server(front, "front.log", *forward), **behind_hop}
        yield FloorServers(emulator, f"127.0.0.1:{front}", processes)


async def floor(deployment: str, seconds: float, rounds: int = ROUNDS) -> Figures:
    """The stack floor measured like a Tollgate cell of `deployment`."""
    with tempfile.TemporaryDirectory(prefix="bench-floor-") as folder:
        hop = not DEPLOYMENTS[deployment]
        async with (
            floor_servers(Path(folder), dict(os.environ), hop) as servers,
            TollgateClient(servers.address, "floor", timeout=60) as client,
        ):

            async def call() -> None:
                await ask_unique(client)

            upstream = servers.emulator
            served = Served(call, servers.processes, [], upstream.url, beside(upstream.process))
            code = f"grpcio {grpc.__version__}, aiohttp {aiohttp.__version__}"
            return await measure(FLOOR, code, served, seconds, deployment, rounds)


async def run(
    seconds: float,
    baseline: Path | None,
    with_litellm: bool,
    setups: list[str],
    deployments: Sequence[str] = tuple(DEPLOYMENTS),
    rounds: int = ROUNDS,
    with_floor: bool = True,
) -> str:
    figures: list[Figures] = []
    notes: list[str] = []
    if with_litellm:
        phase("LiteLLM proxy ...")
        try:
            figures.append(await litellm(litellm_version(), seconds, rounds))
        except Exception as error:  # reported in the table's notes, the rest still runs
            notes.append(f"LiteLLM could not be measured: {type(error).__name__}: {error}")
    if with_floor:
        for deployment in deployments:
            phase(f"stack floor, {deployment} ...")
            figures.append(await floor(deployment, seconds, rounds))
    codes = [(sys.executable, checkout_name(ROOT, "this checkout"))]
    if baseline is not None:
        codes.insert(0, (checkout_python(baseline), checkout_name(baseline)))
    for setup in setups:
        for deployment in deployments:
            for python, code in codes:
                phase(f"{setup}, {deployment}, {code} ...")
                measured = await _tollgate_once_more_if_it_fails(
                    setup, deployment, python, code, seconds, rounds, notes
                )
                if measured is not None:
                    figures.append(measured)
    return render(figures, notes, seconds, rounds)


async def _tollgate_once_more_if_it_fails(
    setup: str,
    deployment: str,
    python: str,
    code: str,
    seconds: float,
    rounds: int,
    notes: list[str],
) -> Figures | None:
    """A suite that cannot start (an embedded store crashing on a machine short of memory), or
    that fails a request while measured, is measured once more from a fresh start; either is
    reported in the notes, so one bad start or one failed request does not lose the run, and
    neither goes unsaid."""
    for attempt in (1, 2):
        try:
            measured = await tollgate(setup, python, code, seconds, deployment, rounds)
        except (SuiteError, TollgateError) as failure:
            what = (
                f"the suite did not start ({failure.summary})"
                if isinstance(failure, SuiteError)
                else f"a request failed ({failure})"
            )
            phase(f"  {what} (attempt {attempt})")
            notes.append(
                f"{setup}, {deployment}, {code}: "
                + (f"{what}; measured again" if attempt == 1 else f"not measured: {what} again")
            )
        else:
            return measured
    return None


def _ms(value: float) -> str:
    return f"{value:+.2f}"


def render(figures: list[Figures], notes: list[str], seconds: float, rounds: int = 1) -> str:
    repeated = (
        f" The 16-client run is repeated {rounds} times: each cell is the median round, the "
        "rounds' range of CPU per request in brackets."
        if rounds > 1
        else ""
    )
    lines = [
        f"Unique prompts, emulator at zero latency, {seconds:g} s per cell. CPU per request is "
        "the serving processes' user + system time over the 16-client run divided by its "
        "requests (Tollgate: all seven services, in seven processes or in one; LiteLLM: the proxy "
        "and its children); stores "
        "(embedded Redis and Postgres) apart. Added latency: one client, against the official "
        "SDK straight to the same emulator measured just before. The machine is shared: rates "
        "and latencies move between runs, CPU per request much less. A request with a step "
        "skipped is one the gateway served without an optimization whose service failed or "
        "answered too late (fail-open); a cell with many of them understates that setup's CPU."
        + repeated,
        "",
        f"| setup | code | req/s at {CLIENTS} | server CPU ms/request | stores CPU ms/request "
        "| added p50 ms (1 client) | added p99 ms (1 client) | requests with a step skipped |",
        "|---|---|---:|---:|---:|---:|---:|---:|",
    ]
    for f in figures:
        skipped = (
            ""
            if f.setup in (LITELLM, FLOOR)
            else f"{f.skipped:,} of {len(f.loaded.latencies_ms):,}"
        )
        lines.append(
            f"| {f.label} | {f.code} | {f.loaded.rate:,.0f} | {f.service_cpu_ms:.2f}{f.spread} "
            f"| {f.cpu_ms(f.store_cpu_seconds):.2f} "
            f"| {_ms(f.one_client.p(50) - f.direct.p(50))} "
            f"| {_ms(f.one_client.p(99) - f.direct.p(99))} | {skipped} |"
        )
    columns = _process_columns(figures)
    cpu_columns = [*columns, EMULATOR_COLUMN, LOAD_COLUMN]
    lines += [
        "",
        "Server CPU per request by process, ms (same 16-client run). The emulator and the load "
        "generator share the machine's two cores with the servers, so they bound every rate "
        "here as well; they are not counted in any server figure.",
        "",
        "| setup | code | " + " | ".join(cpu_columns) + " |",
        "|---|---|" + "---:|" * len(cpu_columns),
    ]
    for f in figures:
        spent = {**f.service_cpu_seconds, **f.beside_cpu_seconds}
        cells = [f"{f.cpu_ms(spent[n]):.2f}" if n in spent else "" for n in cpu_columns]
        lines.append(f"| {f.label} | {f.code} | " + " | ".join(cells) + " |")
    lines += [
        "",
        "Resident memory per serving process, MiB: idle (after warm-up) → after the "
        f"{CLIENTS}-client run.",
        "",
        "| setup | code | " + " | ".join(columns) + " |",
        "|---|---|" + "---:|" * len(columns),
    ]
    for f in figures:
        cells = [
            f"{f.rss_idle[name] / 2**20:.0f} → {f.rss_loaded[name] / 2**20:.0f}"
            if name in f.rss_idle and name in f.rss_loaded
            else ""
            for name in columns
        ]
        lines.append(f"| {f.label} | {f.code} | " + " | ".join(cells) + " |")
    lines += ["", *goal_lines(figures), *(["", *notes] if notes else [])]
    return "\n".join(lines)


def _process_columns(figures: list[Figures]) -> list[str]:
    names: list[str] = []
    for f in figures:
        names += [name for name in f.service_cpu_seconds if name not in names]
    return names


def goal_lines(figures: list[Figures]) -> list[str]:
    lines = [
        "Goals (from the issue), on this checkout's code. The stack floor is the same API answered "
        "by grpc.aio, aiohttp and json alone in the deployment's shape (bench.stack_floor), "
        "measured in the same run: what no pass-through on this stack costs less than.",
        "",
        "| goal | target | measured | stack floor, same run | verdict |",
        "|---|---:|---:|---:|---|",
    ]
    ours = {(f.setup, f.deployment): f for f in figures if f.code.startswith("this checkout")}
    floors = {f.deployment: f for f in figures if f.setup == FLOOR}
    peer = next((f for f in figures if f.setup == LITELLM), None)
    for deployment in DEPLOYMENTS:
        for setup, goal in CPU_GOALS.items():
            if (setup, deployment) in ours:
                value = ours[setup, deployment].service_cpu_ms
                verdict = "met" if value <= goal else f"missed ({value / goal:.1f}x the goal)"
                stack = floors.get(deployment) if setup == PASS_THROUGH else None
                shown = f"{stack.service_cpu_ms:.2f} ms{stack.spread}" if stack else ""
                lines.append(
                    f"| {setup}, {deployment}: server CPU per request | ≤ {goal:g} ms "
                    f"| {value:.2f} ms{ours[setup, deployment].spread} | {shown} | {verdict} |"
                )
        if peer is not None and (GOVERNANCE, deployment) in ours:
            ratio = ours[GOVERNANCE, deployment].loaded.rate / peer.loaded.rate
            verdict = "met" if ratio >= THROUGHPUT_GOAL else "missed"
            lines.append(
                f"| {GOVERNANCE}, {deployment}: req/s at {CLIENTS} over LiteLLM's "
                f"| ≥ {THROUGHPUT_GOAL:g}x | {ratio:.2f}x |  | {verdict} |"
            )
    return lines


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(prog="python -m bench.peer", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="3 s cells instead of 10 s")
    parser.add_argument("--seconds", type=float, help="length of each cell")
    parser.add_argument(
        "--rounds", type=int, default=ROUNDS, help="16-client runs per cell (median reported)"
    )
    parser.add_argument("--baseline", type=Path, help="another checkout (with .venv) to compare")
    parser.add_argument("--no-litellm", action="store_true", help="without LiteLLM's proxy")
    parser.add_argument(
        "--no-floor", action="store_true", help="without the stack floor (bench.stack_floor)"
    )
    parser.add_argument(
        "--setup", action="append", choices=list(SETUPS), help="only these Tollgate setups"
    )
    parser.add_argument(
        "--deployment", action="append", choices=list(DEPLOYMENTS), help="only these deployments"
    )
    args = parser.parse_args(argv)
    seconds = args.seconds or (3.0 if args.quick else 10.0)
    setups = args.setup or list(SETUPS)
    deployments = args.deployment or list(DEPLOYMENTS)
    report = asyncio.run(
        run(
            seconds,
            args.baseline,
            not args.no_litellm,
            setups,
            deployments,
            args.rounds,
            with_floor=not args.no_floor,
        )
    )
    print(report)
    return report


if __name__ == "__main__":
    main()
