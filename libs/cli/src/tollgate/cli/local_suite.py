"""Runs the whole suite as local processes: embedded stores, the emulator, all seven services.

Used by `tollgate run` (`make run`) and `tollgate demo` (`make demo`). Nothing here is needed in
a cluster; it only makes a laptop or a CI machine behave like one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import shutil
import signal
import socket
import sys
import time
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TypeVar

import yaml

from tollgate.cli.suite_failure import (
    CAUSE_SEARCH_LINES,
    LOG_TAIL_LINES,
    SuiteError,
    exit_description,
    failure_cause,
    log_tail,
)
from tollgate.cli.suite_lock import exclusive, ports_in_use
from tollgate.common.auth import hash_api_key
from tollgate.common.health import is_serving
from tollgate.common.stores import EmbeddedStores, short_temp_dir

# (module, default port). Nothing waits on anything else to start: callers retry and fail open.
SERVICES: tuple[tuple[str, int], ...] = (
    ("orchestrator", 50056),
    ("conversation_optimizer", 50052),
    ("cache", 50053),
    ("semantic_cache", 50054),
    ("budget_ledger", 50055),
    ("lead_scoring", 50057),
    ("gateway", 50051),
)
BACKENDS = [name for name, _ in SERVICES if name != "gateway"]
# The Anthropic API emulator's name among the suite's processes (it serves none of Tollgate).
EMULATOR = "anthropic-emulator"
# The services that need a store, with the variable that holds its URL and the embedded kind.
# The gateway keeps sessions (`session_id`) in the same Redis as the exact cache: locally nothing
# evicts it (no memory cap) and nothing outlives the suite anyway.
STORE_URLS = {
    "cache": ("TOLLGATE_CACHE_REDIS_URL", "Redis"),
    "gateway": ("TOLLGATE_GATEWAY_SESSIONS_REDIS_URL", "Redis"),
    "budget_ledger": ("TOLLGATE_BUDGET_LEDGER_DATABASE_URL", "Postgres"),
}
# The gateway's HTTP front door (Anthropic's Messages API) beside its gRPC port.
HTTP_PORT = 8080
DEMO_TENANT = "acme-realty"
START_TIMEOUT_SECONDS = 60.0
# After a call through the gateway fails, how long to look for a process exit that explains it.
EXIT_EXPLAINS_FAILURE_SECONDS = 1.0
T = TypeVar("T")
Progress = Callable[[str], None]


def _quiet(_: str) -> None:
    """The default progress sink: benchmarks and tests start suites without narration."""


def _on(**parameters: object) -> dict[str, object]:
    return {"enabled": True, "rolloutPercent": 100, "mode": "enforce", "parameters": parameters}


# Locally every optimization is on; a cluster starts from the chart's values instead.
DEFAULT_FLAGS = {
    "version": 1,
    "flags": {
        "conversation_optimization": _on(),
        "exact_cache": _on(),
        "semantic_cache": _on(),
        "prompt_caching": _on(ttl="5m"),
        "budget_enforcement": _on(failMode="closed"),
        "lead_reasoning": _on(),
    },
    "canaries": {},
}


def free_port() -> int:
    return free_ports(1)[0]


# Ports are chosen below the kernel's ephemeral range: a port handed out from inside it (bind to
# port 0) can be taken as the local port of any outgoing connection before the service that was
# given it binds (seen: the semantic cache, slow to start while it loads its model, failing to
# bind on a busy make test). Above this floor, clear of the well-known ports.
_LOWEST_PORT = 10_000
# Picks refused (taken, or picked twice) before the kernel is left to choose.
_MAX_REFUSED_PICKS = 1_000


def _ephemeral_range() -> tuple[int, int]:
    try:
        low, high = Path("/proc/sys/net/ipv4/ip_local_port_range").read_text().split()
        return int(low), int(high)
    except (OSError, ValueError):
        return 32_768, 60_999  # Linux's default


def free_ports(count: int) -> list[int]:
    """`count` distinct free ports, below the ephemeral range where it leaves room (else any the
    kernel hands out). Chosen with every socket held open at once: ports picked one after the
    other can repeat (a port closed is free to be handed out again), and two services given one
    port would have one's readiness taken for the other's. A port picked twice, or taken, fails
    to bind and another is picked."""
    first_ephemeral = _ephemeral_range()[0]
    # Random across processes (not seeded by a test), so two suites starting at once rarely meet.
    pick = secrets.SystemRandom()
    sockets: list[socket.socket] = []
    refused = 0
    try:
        while len(sockets) < count:
            crowded = first_ephemeral <= _LOWEST_PORT or refused >= _MAX_REFUSED_PICKS
            port = 0 if crowded else pick.randrange(_LOWEST_PORT, first_ephemeral)
            sock = socket.socket()
            try:
                sock.bind(("127.0.0.1", port))
            except OSError:
                sock.close()
                refused += 1
                continue
            sockets.append(sock)
        return [int(sock.getsockname()[1]) for sock in sockets]
    finally:
        for sock in sockets:
            sock.close()


@dataclass
class SuiteProcess:
    """One child process of the suite, with how to tell it is ready to take calls."""

    name: str
    address: str
    process: asyncio.subprocess.Process
    log_path: Path
    probe: Callable[[], Awaitable[bool]] = field(repr=False)
    env_prefix: str = ""
    spawned_at: float = field(default_factory=time.monotonic)

    def failure(self, what: str, hint: str = "") -> SuiteError:
        """Name this process, say how it ended and why, with the end of its log."""
        recent = log_tail(self.log_path, CAUSE_SEARCH_LINES)
        lines = recent[-LOG_TAIL_LINES:]
        status = exit_description(self.process.returncode)
        summary = f"{self.name} {what}" + (
            f" ({status})." if self.process.returncode is not None else "."
        )
        return SuiteError(
            summary,
            cause=failure_cause(recent, self.env_prefix),
            log_path=self.log_path,
            log_lines=tuple(lines),
            hint=hint,
        )


@dataclass
class LocalSuite:
    """A running suite; `gateway`, `api_key` and `admin_key` are what a client needs."""

    workdir: Path
    gateway: str = ""
    # Base URL of the HTTP front door, for the Anthropic SDKs' `base_url`.
    http_url: str = ""
    api_key: str = ""
    admin_key: str = ""
    emulator_url: str = ""
    processes: list[SuiteProcess] = field(default_factory=list)
    kept_folders: list[Path] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"{p.name:<24} {p.address:<26} log: {p.log_path}" for p in self.processes]
        return "\n".join(lines)

    async def run_until_exit(self, work: Awaitable[T]) -> T:
        """Await `work` while watching every process: the first one to exit ends it all.

        When `work` fails (a call through a gateway whose backend just died, say), a process
        exit found within a moment is the better explanation and is raised instead.
        """
        exits: dict[asyncio.Future[Any], SuiteProcess] = {
            asyncio.ensure_future(p.process.wait()): p for p in self.processes
        }
        job = asyncio.ensure_future(work)
        try:
            done, _ = await asyncio.wait([job, *exits], return_when=asyncio.FIRST_COMPLETED)
            if job in done and job.exception() is not None:
                done, _ = await asyncio.wait(exits, timeout=EXIT_EXPLAINS_FAILURE_SECONDS)
            exited = [exits[task] for task in done if task in exits]
            if exited:
                raise exited[0].failure("stopped unexpectedly; the suite was shut down")
            return job.result()
        finally:
            for task in [job, *exits]:
                task.cancel()
            await asyncio.gather(job, *exits, return_exceptions=True)


def _write_keys(workdir: Path) -> tuple[str, str, Path]:
    """Fresh keys for this run: one application key and one admin key, stored hashed."""
    api_key = "tg_local_" + secrets.token_urlsafe(18)
    admin_key = "tg_admin_" + secrets.token_urlsafe(18)
    path = workdir / "api-keys.yaml"
    keys = [
        {"id": "acme-crm", "tenant": DEMO_TENANT, "sha256": hash_api_key(api_key)},
        {"id": "ops-admin", "tenant": "ops", "sha256": hash_api_key(admin_key), "role": "operator"},
    ]
    path.write_text(yaml.safe_dump({"keys": keys}))
    return api_key, admin_key, path


def _flags_file(workdir: Path, flags: dict[str, object] | None) -> Path:
    path = workdir / "flags.yaml"
    path.write_text(yaml.safe_dump(flags or DEFAULT_FLAGS))
    return path


async def _spawn(
    name: str, module: str, env: dict[str, str], workdir: Path, *args: str, python: str
) -> tuple[asyncio.subprocess.Process, Path]:
    """`python -m module *args` with its output in workdir/<name>.log."""
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            python,
            "-m",
            module,
            *args,
            env=env,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log_path


async def listens(port: int) -> bool:
    """Whether something accepts connections on 127.0.0.1:`port`."""
    try:
        _, writer = await asyncio.open_connection("127.0.0.1", port)
    except OSError:
        return False
    writer.close()
    return True


async def _start_emulator(workdir: Path, env: dict[str, str], python: str) -> SuiteProcess:
    port = free_port()
    process, log_path = await _spawn(
        "emulator",
        "tollgate.emulator",
        env,
        workdir,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
        python=python,
    )
    url = f"http://127.0.0.1:{port}"
    return SuiteProcess(EMULATOR, url, process, log_path, lambda: listens(port))


def _grpc_probe(address: str, service: str) -> Callable[[], Awaitable[bool]]:
    """Ready when `service` itself reports SERVING at `address`: another server's health answer
    (a port still held by a process that is going away, say) must not count as ours."""
    return lambda: is_serving(address, service)


def grpc_service_name(name: str) -> str:
    """The gRPC service a suite process serves, e.g. tollgate.v1.SemanticCacheService."""
    return "tollgate.v1." + "".join(part.title() for part in name.split("_")) + "Service"


async def _spawn_service(
    name: str,
    env: dict[str, str],
    workdir: Path,
    ports: dict[str, int],
    python: str,
    module: str | None = None,
) -> SuiteProcess:
    module = module or f"tollgate.{name}"
    process, log_path = await _spawn(name, module, env, workdir, python=python)
    address = f"127.0.0.1:{ports[name]}"
    return SuiteProcess(
        name,
        address,
        process,
        log_path,
        _grpc_probe(address, grpc_service_name(name)),
        env_prefix=f"TOLLGATE_{name.upper()}_",
    )


@dataclass
class _Launcher:
    """Spawns services into `processes`, each then watched until it is ready or fails."""

    env: dict[str, str]
    workdir: Path
    ports: dict[str, int]
    processes: list[SuiteProcess]
    timeout: float
    progress: Progress
    python: str
    embedded: dict[str, asyncio.Future[str]] = field(default_factory=dict)

    async def start(
        self, name: str, extra_env: dict[str, str] | None = None, module: str | None = None
    ) -> None:
        env = {**self.env, **(extra_env or {})}
        entry = await _spawn_service(name, env, self.workdir, self.ports, self.python, module)
        self.processes.append(entry)
        await _until_ready(entry, self.timeout, self.progress)

    async def start_after_store(
        self, name: str, variable: str, kind: str, start_store: Callable[[], str]
    ) -> None:
        """Start the embedded store the service needs (unless configured), then the service."""
        if variable in self.env:
            await self.start(name)
        else:
            await self.start(name, {variable: await self._embedded_url(kind, start_store)})

    async def start_single_process(self, starters: dict[str, Callable[[], str]]) -> None:
        """Every service in one process (tollgate.single_process), as "gateway", with every
        store any of them needs."""
        stores = {}
        for variable, kind in STORE_URLS.values():
            if variable not in self.env:
                stores[variable] = await self._embedded_url(kind, starters[kind])
        await self.start("gateway", stores, module="tollgate.single_process")

    async def _embedded_url(self, kind: str, start_store: Callable[[], str]) -> str:
        """One embedded store of each kind, however many services wait for it."""
        if kind not in self.embedded:
            self.embedded[kind] = asyncio.ensure_future(_embedded(kind, start_store, self.progress))
        return await self.embedded[kind]


async def _embedded(what: str, start: Callable[[], str], progress: Progress) -> str:
    """Start an embedded store off the event loop; a failure names the store and its cause."""
    progress(f"starting embedded {what} ...")
    starting = asyncio.ensure_future(asyncio.to_thread(start))
    try:
        return await asyncio.shield(starting)
    except asyncio.CancelledError:
        # A thread cannot be interrupted: let the server come up, so closing the stores stops
        # it instead of leaving it running.
        with contextlib.suppress(Exception):
            await starting
        raise
    except Exception as error:  # the wheels raise whatever their server printed
        raise SuiteError(
            f"the embedded {what} could not start.", cause=[f"{type(error).__name__}: {error}"]
        ) from None


async def _until_ready(entry: SuiteProcess, timeout: float, progress: Progress) -> None:
    loop = asyncio.get_running_loop()
    deadline = loop.time() + timeout
    while True:
        # Exit first: a port that answers may belong to someone else once ours is gone.
        if entry.process.returncode is not None:
            raise entry.failure("exited while starting")
        if await entry.probe():
            progress(f"  ready: {entry.name} ({time.monotonic() - entry.spawned_at:.1f} s)")
            return
        if loop.time() > deadline:
            raise entry.failure(
                f"did not become ready within {timeout:g} s",
                hint="A busy machine may need more time: --start-timeout SECONDS.",
            )
        await asyncio.sleep(0.1)


async def await_ready(entries: list[SuiteProcess], timeout: float, progress: Progress) -> None:
    """Every process ready, or the first failure: an exit is reported as soon as it happens."""
    await _first_failure([_until_ready(e, timeout, progress) for e in entries])


async def _first_failure(jobs: list[Awaitable[None]]) -> None:
    """Await every job; the first one to fail cancels the others and its error is raised."""
    tasks = [asyncio.ensure_future(job) for job in jobs]
    try:
        done, _ = await asyncio.wait(tasks, return_when=asyncio.FIRST_EXCEPTION)
        failures = [t.exception() for t in tasks if t in done and t.exception() is not None]
        if failures:
            raise failures[0]  # type: ignore[misc]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


def _suite_ports(default_ports: bool) -> tuple[dict[str, int], int]:
    """Each service's port, and the HTTP door's."""
    if not default_ports:
        *chosen, http = free_ports(len(SERVICES) + 1)
        return {name: port for (name, _), port in zip(SERVICES, chosen, strict=True)}, http
    ports = dict(SERVICES)
    busy = ports_in_use(ports)
    if busy:
        taken = ", ".join(f"{port} ({name})" for name, port in busy)
        raise SuiteError(
            f"port {taken} on 127.0.0.1 is already in use by another program.",
            cause=[],
            hint="Stop it, or start the suite on free ports: tollgate run --free-ports.",
        )
    return ports, HTTP_PORT


@contextlib.contextmanager
def _default_ports_lock(default_ports: bool) -> Iterator[None]:
    if not default_ports:
        yield
        return
    with exclusive(
        f"ports-{SERVICES[-1][1]}",
        "local suite on ports 50051-50057",
        "Stop it (Ctrl-C in its terminal), or start this one on free ports: "
        "tollgate run --free-ports.",
    ):
        yield


def _service_env(base: dict[str, str], ports: dict[str, int]) -> dict[str, str]:
    env = dict(base)
    for name, _ in SERVICES:
        prefix = f"TOLLGATE_{name.upper()}_"
        env[prefix + "HOST"] = "127.0.0.1"
        env[prefix + "PORT"] = str(ports[name])
        if name in BACKENDS:
            env[f"TOLLGATE_GATEWAY_{name.upper()}_ADDR"] = f"127.0.0.1:{ports[name]}"
    return env


@contextlib.asynccontextmanager
async def local_suite(
    *,
    default_ports: bool = False,
    flags: dict[str, object] | None = None,
    workdir: Path | None = None,
    keep_workdir: bool = False,
    start_timeout: float = START_TIMEOUT_SECONDS,
    progress: Progress = _quiet,
    python: str = sys.executable,
    single_process: bool = False,
    extra_env: Mapping[str, str] | None = None,
) -> AsyncIterator[LocalSuite]:
    """Start everything, wait until every process is ready, and stop it all on exit.

    `single_process` runs the seven services as one process (`python -m
    tollgate.single_process`, listening where the gateway would) instead of seven.

    `python` is the interpreter the processes run under: another checkout's virtualenv runs
    that checkout's code (the benchmarks compare a branch with main that way). `extra_env` is set
    for every process over this one's environment (a setting one side of a comparison differs by).

    Raises SuiteError, naming the process, when one exits or is not ready in time. Folders made
    here (logs, keys, store data) are removed on exit unless `keep_workdir`; a `workdir` given
    by the caller is the caller's to keep.
    """
    with _default_ports_lock(default_ports):
        ports, http_port = _suite_ports(default_ports)
        owned: list[Path] = []
        if workdir is None:
            workdir = short_temp_dir("tollgate-local-")
            owned.append(workdir)
        workdir.mkdir(parents=True, exist_ok=True)
        # Store data (and the embedded Postgres socket) under a short path, whatever workdir is.
        stores_dir = short_temp_dir("tollgate-stores-")
        owned.append(stores_dir)
        stores = EmbeddedStores(workdir=stores_dir)
        suite = LocalSuite(workdir=workdir, kept_folders=owned if keep_workdir else [])
        try:
            env = {**os.environ, **(extra_env or {})}
            env.setdefault("PYTHONUNBUFFERED", "1")
            if not env.get("ANTHROPIC_API_KEY"):
                progress("starting the Anthropic API emulator ...")
                emulator = await _start_emulator(workdir, env, python)
                suite.processes.append(emulator)
                suite.emulator_url = emulator.address
                env["TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL"] = suite.emulator_url
                env["TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY"] = "local-emulator-key"
            suite.api_key, suite.admin_key, keys_path = _write_keys(workdir)
            env["TOLLGATE_GATEWAY_API_KEYS_FILE"] = str(keys_path)
            env["TOLLGATE_GATEWAY_FLAGS_FILE"] = str(_flags_file(workdir, flags))
            env = _service_env(env, ports)
            env["TOLLGATE_GATEWAY_HTTP_ENABLED"] = "true"
            env["TOLLGATE_GATEWAY_HTTP_PORT"] = str(http_port)
            env.setdefault("TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START", "true")
            # Sessions go where the exact cache goes: a Redis given for the cache serves them
            # too, unless one is given for sessions.
            cache_redis, sessions_redis = (STORE_URLS[n][0] for n in ("cache", "gateway"))
            if cache_redis in env:
                env.setdefault(sessions_redis, env[cache_redis])
            # In the suite's own folder: a service stopped mid-start cannot clean up after itself.
            env.setdefault("TOLLGATE_SEMANTIC_CACHE_DATA_DIR", str(stores_dir / "vectors"))
            # Each service starts as soon as what it needs is there, and is watched from then
            # on: one that fails is reported while Postgres may still be starting.
            launcher = _Launcher(
                env, workdir, ports, suite.processes, start_timeout, progress, python
            )
            starters = {"Redis": stores.redis_url, "Postgres": stores.postgres_dsn}

            def start(name: str) -> Awaitable[None]:
                if name not in STORE_URLS:
                    return launcher.start(name)
                variable, kind = STORE_URLS[name]
                return launcher.start_after_store(name, variable, kind, starters[kind])

            if single_process:
                progress("starting the services in one process ...")
                await _first_failure(
                    [
                        *(_until_ready(p, start_timeout, progress) for p in list(suite.processes)),
                        launcher.start_single_process(starters),
                    ]
                )
            else:
                progress(f"starting {len(SERVICES)} services ...")
                await _first_failure(
                    [
                        *(_until_ready(p, start_timeout, progress) for p in list(suite.processes)),
                        *(start(name) for name in BACKENDS),
                    ]
                )
                # The gateway last, once every backend listens: its first calls find them up
                # instead of meeting a channel still backing off from a refused connection.
                await _first_failure([start("gateway")])
            suite.gateway = f"127.0.0.1:{ports['gateway']}"
            suite.http_url = f"http://127.0.0.1:{http_port}"
            yield suite
        except SuiteError as failure:
            # Said now: stopping the rest takes seconds, and the cause is known already.
            progress(f"{failure.summary} Stopping everything ...")
            raise
        finally:
            await _stop_all(suite.processes)
            stores.close()
            if keep_workdir:
                progress("kept (logs, keys, store data): " + "  ".join(map(str, owned)))
            else:
                for folder in owned:
                    shutil.rmtree(folder, ignore_errors=True)


async def _stop_all(processes: list[SuiteProcess], grace: float = 15.0) -> None:
    """SIGTERM everything (services drain), then SIGKILL what is still running after `grace`."""
    for entry in reversed(processes):
        if entry.process.returncode is None:
            with contextlib.suppress(ProcessLookupError):
                entry.process.send_signal(signal.SIGTERM)
    for entry in processes:
        try:
            await asyncio.wait_for(entry.process.wait(), grace)
        except TimeoutError:
            with contextlib.suppress(ProcessLookupError):
                entry.process.kill()
            await entry.process.wait()
