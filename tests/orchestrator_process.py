"""Orchestrators in processes of their own, as replicas of one deployment run: a fleet that
shares nothing but what it shares on purpose (Claude's organisation, and Redis when pacing)."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.gateway_process import stop_process
from tollgate.v1 import common_pb2, orchestrator_pb2


@dataclass
class OrchestratorProcess:
    process: subprocess.Popen[bytes]
    port: int
    log: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def output(self) -> str:
        return self.log.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def start_orchestrator_processes(
    workdir: Path, count: int, env: dict[str, str], startup_seconds: float = 240.0
) -> list[OrchestratorProcess]:
    """`count` copies of `python -m tollgate.orchestrator` on free ports; returns once all listen.

    `env` is each replica's TOLLGATE_ORCHESTRATOR_* configuration (the emulator's address, the
    API key, pacing). A replica that exits or does not listen in time stops them all, with its
    log in the error.
    """
    environment = {
        **os.environ,
        "TOLLGATE_ORCHESTRATOR_HOST": "127.0.0.1",
        "TOLLGATE_ORCHESTRATOR_PORT": "0",
        "TOLLGATE_ORCHESTRATOR_SHUTDOWN_GRACE_SECONDS": "1",
        **env,
    }
    replicas: list[OrchestratorProcess] = []
    for index in range(count):
        log = workdir / f"orchestrator-{index}.log"
        with log.open("wb") as out:
            process = subprocess.Popen(
                [sys.executable, "-m", "tollgate.orchestrator"],
                stdout=out,
                stderr=subprocess.STDOUT,
                env=environment,
            )
        replicas.append(OrchestratorProcess(process, 0, log))
    deadline = time.monotonic() + startup_seconds
    try:
        for replica in replicas:
            while replica.port == 0:
                if replica.process.poll() is not None:
                    raise RuntimeError(f"an orchestrator exited: {replica.output()[-2000:]}")
                if time.monotonic() > deadline:
                    raise RuntimeError(f"an orchestrator did not start: {replica.output()[-2000:]}")
                replica.port = _listening_port(replica.output())
                if replica.port == 0:
                    time.sleep(0.1)
    except BaseException:
        for replica in replicas:
            replica.stop()
        raise
    return replicas


def _listening_port(log: str) -> int:
    for line in log.splitlines():
        if '"listening"' in line:
            return int(json.loads(line)["port"])
    return 0


def lead_summary_spec(
    n: int, *, model: str = "claude-sonnet-5-5", tenant: str = "acme"
) -> orchestrator_pb2.GenerationSpec:
    """A short generation (request `req-{n}`), the load the pacing tests send."""
    text = common_pb2.ContentBlock(text=common_pb2.TextBlock(text=f"Summarise lead {n}."))
    return orchestrator_pb2.GenerationSpec(
        context=common_pb2.RequestContext(tenant_id=tenant, request_id=f"req-{n}"),
        request=common_pb2.ClaudeRequest(
            model=model,
            max_tokens=16,
            messages=[common_pb2.Message(role=common_pb2.ROLE_USER, content=[text])],
        ),
    )
