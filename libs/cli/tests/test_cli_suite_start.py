"""`tollgate run` as a user runs it, with a service that cannot start, is killed, or is slow.

Each case starts the real command in its own process, with a start timeout of ten minutes: a
test that ends well inside its own limit proves the failure was seen when it happened, not
when a timeout ran out. Temp folders go to a short private TMPDIR, so the test can check that
nothing is left behind.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator
from pathlib import Path

import psutil
import pytest

from tollgate.cli.local_suite import SuiteProcess, await_ready
from tollgate.cli.suite_failure import SuiteError

CLI = [sys.executable, "-m", "tollgate.cli.main"]
RUN = [*CLI, "run", "--free-ports", "--start-timeout", "600"]
DEMO = [*CLI, "demo", "--start-timeout", "600"]
# Well inside the ten-minute start timeout above, and above a slow start on a busy machine.
FAILS_WITHIN_SECONDS = 100


@pytest.fixture
def temp_root() -> Iterator[Path]:
    folder = Path(tempfile.mkdtemp(prefix="tgs-", dir="/tmp"))
    yield folder
    shutil.rmtree(folder, ignore_errors=True)


def _env(temp_root: Path, **overrides: str) -> dict[str, str]:
    env = {k: v for k, v in os.environ.items() if not k.startswith("TOLLGATE_")}
    env.pop("ANTHROPIC_API_KEY", None)
    env["TMPDIR"] = str(temp_root)
    env.update(overrides)
    return env


def _leftovers(temp_root: Path) -> list[str]:
    """What a run left in TMPDIR, less what is kept there for good by design: onnxruntime's
    `.ses`, the embedded Postgres' per-user runtime folder, and the suite's own lock files
    (reused by the next run; removing one while another process opens it would split the lock)."""
    kept = {".ses", f"runtime-{os.getuid()}"}
    return sorted(
        p.name for p in temp_root.iterdir() if p.name not in kept and not p.name.endswith(".lock")
    )


def _finish(process: subprocess.Popen[str]) -> tuple[int, str, str]:
    try:
        stdout, stderr = process.communicate(timeout=FAILS_WITHIN_SECONDS)
    except subprocess.TimeoutExpired:
        process.send_signal(signal.SIGINT)
        stdout, stderr = process.communicate(timeout=60)
        pytest.fail(f"the suite did not stop within {FAILS_WITHIN_SECONDS} s:\n{stdout}\n{stderr}")
    return process.returncode, stdout, stderr


def _assert_reported_without_traceback(stderr: str) -> None:
    """The log tail may show the service's traceback (prefixed); the command has none."""
    own_lines = [line for line in stderr.splitlines() if not line.startswith("  | ")]
    assert not any("Traceback" in line for line in own_lines), stderr


def _child(process: subprocess.Popen[str], module: str, timeout: float) -> psutil.Process:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        for child in psutil.Process(process.pid).children(recursive=True):
            try:
                if module in child.cmdline():
                    return child
            except psutil.NoSuchProcess:
                continue
        time.sleep(0.02)
    pytest.fail(f"{module} was never started")


@pytest.mark.timeout(FAILS_WITHIN_SECONDS + 60)
@pytest.mark.parametrize(
    ("command", "setting", "value", "service", "cause"),
    [
        pytest.param(
            "demo",
            "TOLLGATE_SEMANTIC_CACHE_MODEL_PATH",
            "/nonexistent/model",
            "semantic_cache",
            "cause: ModelLoadError: embedding model not found: /nonexistent/model/model.onnx",
            id="missing-model",
        ),
        pytest.param(
            "run",
            "TOLLGATE_CACHE_SHUTDOWN_GRACE_SECONDS",
            "soon",
            "cache",
            "shutdown_grace_seconds (environment variable TOLLGATE_CACHE_SHUTDOWN_GRACE_SECONDS)",
            id="bad-env-var",
        ),
    ],
)
def test_a_misconfigured_service_fails_the_start_naming_it(
    temp_root: Path, command: str, setting: str, value: str, service: str, cause: str
) -> None:
    argv = RUN if command == "run" else [*DEMO, "--report-html", str(temp_root / "report.html")]
    process = subprocess.Popen(
        argv,
        env=_env(temp_root, **{setting: value}),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    returncode, stdout, stderr = _finish(process)
    assert returncode == 1, stdout + stderr
    assert f"tollgate: {service} exited while starting (exit code 1)." in stderr
    assert cause in stderr
    assert f"last lines of {service}.log:" in stderr
    assert "--keep-workdir keeps them" in stderr
    _assert_reported_without_traceback(stderr)
    assert "Tollgate is running" not in stdout
    assert "Driving the workload" not in stdout
    assert _leftovers(temp_root) == [], "the work and store folders are removed"


@pytest.mark.timeout(FAILS_WITHIN_SECONDS + 60)
def test_a_service_killed_while_starting_is_named(temp_root: Path) -> None:
    process = subprocess.Popen(
        [*RUN, "--keep-workdir"],
        env=_env(temp_root),
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    _child(process, "tollgate.lead_scoring", timeout=60).kill()
    returncode, stdout, stderr = _finish(process)
    assert returncode == 1, stdout + stderr
    assert "tollgate: lead_scoring exited while starting (killed by signal SIGKILL)." in stderr
    _assert_reported_without_traceback(stderr)
    kept = [
        line for line in stdout.splitlines() if line.startswith("kept (logs, keys, store data)")
    ]
    assert kept, stdout
    assert sorted(p.split("-")[1] for p in _leftovers(temp_root)) == ["local", "stores"]
    assert all(str(temp_root) in folder for folder in kept[0].split(": ", 1)[1].split())


@pytest.mark.timeout(FAILS_WITHIN_SECONDS + 120)
def test_under_a_long_temp_folder_the_suite_runs_and_a_killed_service_ends_it(
    temp_root: Path,
) -> None:
    """TMPDIR of 200 bytes and no XDG_RUNTIME_DIR: the embedded Postgres socket would not fit
    (Unix socket paths hold ~107 bytes) if its data lived under TMPDIR."""
    long_temp = temp_root / "/".join(["t" * 48] * 4)
    long_temp.mkdir(parents=True)
    env = _env(long_temp)
    env.pop("XDG_RUNTIME_DIR", None)
    process = subprocess.Popen(
        RUN, env=env, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True
    )
    assert process.stdout is not None
    seen: list[str] = []
    for line in process.stdout:
        seen.append(line)
        if line.startswith("Ctrl-C stops everything"):
            break
    assert any("Tollgate is running" in line for line in seen), "".join(seen)
    children = psutil.Process(process.pid).children(recursive=True)
    _child(process, "tollgate.semantic_cache", timeout=5).send_signal(signal.SIGKILL)
    returncode, stdout, stderr = _finish(process)
    assert returncode == 1, stdout + stderr
    assert (
        "tollgate: semantic_cache stopped unexpectedly; the suite was shut down "
        "(killed by signal SIGKILL)." in stderr
    )
    _assert_reported_without_traceback(stderr)
    _, alive = psutil.wait_procs(children, timeout=10)
    assert alive == [], "every process of the suite is stopped"


async def test_a_service_that_never_becomes_ready_is_named() -> None:
    """A live process that never answers its probe: named once the start timeout runs out."""
    sleeper = await asyncio.create_subprocess_exec(
        sys.executable, "-c", "import time; time.sleep(60)"
    )
    hanging = SuiteProcess("gateway", "127.0.0.1:1", sleeper, Path("/nonexistent.log"), _never)
    try:
        with pytest.raises(SuiteError) as failed:
            await await_ready([hanging], timeout=0.5, progress=lambda _: None)
    finally:
        sleeper.kill()
        await sleeper.wait()
    assert str(failed.value) == "gateway did not become ready within 0.5 s."
    assert "--start-timeout" in failed.value.hint


async def _never() -> bool:
    return False
