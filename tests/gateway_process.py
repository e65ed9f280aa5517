"""A gateway in a process of its own, for attacks whose effect is measured on the process:
its memory (peak RSS from /proc) and everything it writes to stdout and stderr."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from dataclasses import dataclass
from pathlib import Path

from tests.conftest import write_keys_file


@dataclass
class GatewayProcess:
    process: subprocess.Popen[bytes]
    port: int
    stdout: Path
    stderr: Path

    @property
    def address(self) -> str:
        return f"127.0.0.1:{self.port}"

    def _status(self, field: str) -> int:
        for line in Path(f"/proc/{self.process.pid}/status").read_text().splitlines():
            if line.startswith(f"{field}:"):
                return int(line.split()[1]) * 1024  # reported in kB
        raise RuntimeError(f"{field} not in /proc/{self.process.pid}/status")

    def rss_bytes(self) -> int:
        return self._status("VmRSS")

    def peak_rss_bytes(self) -> int:
        """The most resident memory the process has had (the kernel's high-water mark)."""
        return self._status("VmHWM")

    def output(self) -> str:
        """Everything written so far to stdout and stderr."""
        return self.stdout.read_text(errors="replace") + self.stderr.read_text(errors="replace")

    def stop(self) -> None:
        stop_process(self.process)


def stop_process(process: subprocess.Popen[bytes]) -> None:
    """SIGTERM (a graceful drain), then SIGKILL if it has not ended within 30 s."""
    if process.poll() is None:
        process.send_signal(signal.SIGTERM)
        try:
            process.wait(timeout=30)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()


def start_gateway_process(
    workdir: Path, env: dict[str, str] | None = None, startup_seconds: float = 60.0
) -> GatewayProcess:
    """`python -m tollgate.gateway` on a free port with the test keys; returns once listening.
    Backends point at the defaults (nothing listens there unless `env` says otherwise)."""
    stdout, stderr = workdir / "gateway.stdout", workdir / "gateway.stderr"
    environment = {
        **os.environ,
        "TOLLGATE_GATEWAY_HOST": "127.0.0.1",
        "TOLLGATE_GATEWAY_PORT": "0",
        "TOLLGATE_GATEWAY_API_KEYS_FILE": str(write_keys_file(workdir / "keys.yaml")),
        "TOLLGATE_GATEWAY_SHUTDOWN_GRACE_SECONDS": "1",
        **(env or {}),
    }
    with stdout.open("wb") as out, stderr.open("wb") as err:
        process = subprocess.Popen(
            [sys.executable, "-m", "tollgate.gateway"], stdout=out, stderr=err, env=environment
        )
    running = GatewayProcess(process, 0, stdout, stderr)
    deadline = time.monotonic() + startup_seconds
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the gateway exited: {running.output()[-2000:]}")
        for line in stdout.read_text(errors="replace").splitlines():
            if '"listening"' in line:
                running.port = int(json.loads(line)["port"])
                return running
        time.sleep(0.1)
    running.stop()
    raise RuntimeError(f"the gateway did not start: {running.output()[-2000:]}")
