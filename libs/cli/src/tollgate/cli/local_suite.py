"""Runs the whole suite as local processes: embedded stores, the emulator, all seven services.

Used by `tollgate run` (`make run`) and `tollgate demo` (`make demo`). Nothing here is needed in
a cluster; it only makes a laptop or a CI machine behave like one.
"""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import signal
import socket
import sys
import tempfile
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from pathlib import Path

import yaml

from tollgate.common.auth import hash_api_key
from tollgate.common.health import wait_until_serving
from tollgate.common.stores import EmbeddedStores

# (module, default port), in start order: the gateway last, once what it calls is up.
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
DEMO_TENANT = "acme-realty"


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
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@dataclass
class SuiteProcess:
    name: str
    address: str
    process: asyncio.subprocess.Process
    log_path: Path


@dataclass
class LocalSuite:
    """A running suite; `gateway`, `api_key` and `admin_key` are what a client needs."""

    workdir: Path
    gateway: str = ""
    api_key: str = ""
    admin_key: str = ""
    emulator_url: str = ""
    processes: list[SuiteProcess] = field(default_factory=list)

    def describe(self) -> str:
        lines = [f"{p.name:<24} {p.address:<26} log: {p.log_path}" for p in self.processes]
        return "\n".join(lines)


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
    name: str, module: str, env: dict[str, str], workdir: Path, *args: str
) -> tuple[asyncio.subprocess.Process, Path]:
    """`python -m module *args` with its output in workdir/<name>.log."""
    log_path = workdir / f"{name}.log"
    with log_path.open("ab") as log_file:
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            module,
            *args,
            env=env,
            stdout=log_file,
            stderr=asyncio.subprocess.STDOUT,
            start_new_session=True,
        )
    return process, log_path


async def _start_emulator(workdir: Path, env: dict[str, str]) -> tuple[SuiteProcess, str]:
    port = free_port()
    process, log_path = await _spawn(
        "emulator", "tollgate.emulator", env, workdir, "--host", "127.0.0.1", "--port", str(port)
    )
    url = f"http://127.0.0.1:{port}"
    await _wait_for_http(port, timeout=30)
    return SuiteProcess("anthropic-emulator", url, process, log_path), url


async def _wait_for_http(port: int, timeout: float) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while True:
        try:
            _, writer = await asyncio.open_connection("127.0.0.1", port)
            writer.close()
            return
        except OSError:
            if asyncio.get_running_loop().time() > deadline:
                raise TimeoutError(f"emulator did not listen on {port} within {timeout}s") from None
            await asyncio.sleep(0.05)


@contextlib.asynccontextmanager
async def local_suite(
    *,
    default_ports: bool = False,
    flags: dict[str, object] | None = None,
    workdir: Path | None = None,
) -> AsyncIterator[LocalSuite]:
    """Start everything, wait until every service is SERVING, and stop it all on exit."""
    workdir = workdir or Path(tempfile.mkdtemp(prefix="tollgate-local-"))
    workdir.mkdir(parents=True, exist_ok=True)
    stores = EmbeddedStores(workdir=workdir / "stores")
    suite = LocalSuite(workdir=workdir)
    try:
        base_env = dict(os.environ)
        base_env.setdefault("PYTHONUNBUFFERED", "1")
        env = dict(base_env)
        if not env.get("ANTHROPIC_API_KEY"):
            emulator, suite.emulator_url = await _start_emulator(workdir, base_env)
            suite.processes.append(emulator)
            env["TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL"] = suite.emulator_url
            env["TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY"] = "local-emulator-key"
        env.setdefault("TOLLGATE_CACHE_REDIS_URL", stores.redis_url())
        env.setdefault("TOLLGATE_BUDGET_LEDGER_DATABASE_URL", stores.postgres_dsn())
        env.setdefault("TOLLGATE_BUDGET_LEDGER_MIGRATE_ON_START", "true")
        suite.api_key, suite.admin_key, keys_path = _write_keys(workdir)
        env["TOLLGATE_GATEWAY_API_KEYS_FILE"] = str(keys_path)
        env["TOLLGATE_GATEWAY_FLAGS_FILE"] = str(_flags_file(workdir, flags))
        ports = {name: port if default_ports else free_port() for name, port in SERVICES}
        for name, _ in SERVICES:
            prefix = f"TOLLGATE_{name.upper()}_"
            env[prefix + "HOST"] = "127.0.0.1"
            env[prefix + "PORT"] = str(ports[name])
            if name in BACKENDS:
                env[f"TOLLGATE_GATEWAY_{name.upper()}_ADDR"] = f"127.0.0.1:{ports[name]}"
        for name, _ in SERVICES:
            process, log_path = await _spawn(name, f"tollgate.{name}", env, workdir)
            address = f"127.0.0.1:{ports[name]}"
            suite.processes.append(SuiteProcess(name, address, process, log_path))
        await asyncio.gather(
            *(
                wait_until_serving(p.address, timeout=60)
                for p in suite.processes
                if p.name != "anthropic-emulator"
            )
        )
        suite.gateway = f"127.0.0.1:{ports['gateway']}"
        yield suite
    finally:
        await _stop_all(suite.processes)
        stores.close()


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
