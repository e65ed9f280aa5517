"""The Docker engine as the container test uses it: through the `docker` CLI, asynchronously, so
the emulator serving in the test's event loop keeps answering while containers start and stop."""

from __future__ import annotations

import asyncio
import subprocess
import time
from dataclasses import dataclass, field
from pathlib import Path

# What the chart's containerSecurityContext asks for (tollgate.containerSecurityContext): a
# non-root user, a read-only root filesystem with an emptyDir on /tmp, no capabilities, no
# privilege escalation. Host networking keeps every port on this machine's loopback.
SKIP_REASON = "no Docker engine answers (scripts/docker-engine.sh starts one as root)"
CHART_UID = 10001
HARDENING = (
    "--network=host",
    "--read-only",
    "--tmpfs=/tmp:rw,size=256m,mode=1777",
    f"--user={CHART_UID}:{CHART_UID}",
    "--cap-drop=ALL",
    "--security-opt=no-new-privileges",
)


def engine_answers() -> bool:
    try:
        result = subprocess.run(["docker", "info"], capture_output=True, timeout=30, check=False)
    except (OSError, subprocess.TimeoutExpired):
        return False
    return result.returncode == 0


async def docker(*args: str, timeout: float = 120.0) -> str:
    """Run `docker *args`; its stdout, or an AssertionError carrying its stderr."""
    process = await asyncio.create_subprocess_exec(
        "docker", *args, stdout=subprocess.PIPE, stderr=subprocess.PIPE
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    assert process.returncode == 0, f"docker {' '.join(args)}: {stderr.decode().strip()}"
    return stdout.decode().strip()


@dataclass
class Stopped:
    exit_code: int
    seconds: float


@dataclass
class Containers:
    """Containers this test started (all named with one prefix); `remove_all` always runs."""

    prefix: str
    names: dict[str, str] = field(default_factory=dict)

    async def run(
        self, service: str, image: str, env: dict[str, str], mounts: dict[Path, str]
    ) -> None:
        name = f"{self.prefix}-{service}"
        args = ["run", "--detach", f"--name={name}", *HARDENING]
        args += [f"--env={key}={value}" for key, value in env.items()]
        args += [f"--volume={source}:{target}:ro" for source, target in mounts.items()]
        self.names[service] = name
        await docker(*args, image)

    async def inspect(self, service: str, template: str) -> str:
        return await docker("inspect", f"--format={template}", self.names[service])

    async def logs(self, service: str, tail: int = 40) -> str:
        process = await asyncio.create_subprocess_exec(
            "docker",
            "logs",
            f"--tail={tail}",
            self.names[service],
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
        )
        output, _ = await process.communicate()
        return output.decode(errors="replace")

    async def terminate(self, service: str, timeout: float) -> Stopped:
        """SIGTERM, then wait for the exit: its code and how long the drain took."""
        name = self.names[service]
        started = time.monotonic()
        await docker("kill", "--signal=TERM", name)
        code = await docker("wait", name, timeout=timeout)
        return Stopped(int(code), time.monotonic() - started)

    async def remove_all(self) -> None:
        if self.names:
            process = await asyncio.create_subprocess_exec(
                "docker",
                "rm",
                "--force",
                *self.names.values(),
                stdout=subprocess.DEVNULL,
                stderr=subprocess.DEVNULL,
            )
            await process.wait()
