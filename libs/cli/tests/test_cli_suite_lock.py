"""A second local suite refuses at once: a lock held by another process, or ports already taken."""

from __future__ import annotations

import hashlib
import os
import shutil
import socket
import subprocess
import sys
import tempfile
from collections.abc import Iterator
from pathlib import Path

import pytest

from tollgate.cli.suite_failure import SuiteError
from tollgate.cli.suite_lock import exclusive, lock_path, ports_in_use

HOLD_LOCK = """
import sys, time
from tollgate.cli.suite_lock import exclusive
with exclusive(sys.argv[1], "test", "hint"):
    print("held", flush=True)
    time.sleep(120)
"""


@pytest.fixture
def private_temp(monkeypatch: pytest.MonkeyPatch) -> Iterator[Path]:
    """Locks live in the temp folder; a short private one keeps them away from real runs.
    (Not pytest's tmp_path: its session root would be made inside this folder, then lost.)"""
    folder = Path(tempfile.mkdtemp(prefix="tgl-", dir="/tmp"))
    monkeypatch.setenv("TMPDIR", str(folder))
    monkeypatch.setattr(tempfile, "tempdir", None)  # re-read TMPDIR
    yield folder
    shutil.rmtree(folder)


@pytest.fixture
def holder(private_temp: Path) -> Iterator[subprocess.Popen[str]]:
    """Another process holding the lock `ports-50051`, as a running `tollgate run` does."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, "ports-50051"],
        stdout=subprocess.PIPE,
        text=True,
        env=os.environ.copy(),
    )
    assert process.stdout is not None
    assert process.stdout.readline().strip() == "held"
    yield process
    process.kill()
    process.wait()


def test_a_held_lock_refuses_naming_its_holder(holder: subprocess.Popen[str]) -> None:
    with pytest.raises(SuiteError) as refused, exclusive("ports-50051", "local suite", "Stop it."):
        pytest.fail("the lock was taken twice")
    assert f"pid {holder.pid}" in str(refused.value)
    assert refused.value.hint == "Stop it."


def test_the_lock_frees_itself_when_its_holder_is_killed(
    holder: subprocess.Popen[str],
) -> None:
    holder.kill()
    holder.wait()
    with exclusive("ports-50051", "local suite", "Stop it."):
        assert lock_path("ports-50051").exists()


def test_second_tollgate_run_refuses_before_binding_anything(
    holder: subprocess.Popen[str], private_temp: Path
) -> None:
    """The real command, as a user types it: no port is touched, no traceback, exit 1."""
    completed = subprocess.run(
        [sys.executable, "-m", "tollgate.cli.main", "run"],
        capture_output=True,
        text=True,
        timeout=60,
        env=os.environ.copy(),
        check=False,
    )
    assert completed.returncode == 1
    assert "another local suite on ports 50051-50057 is already running" in completed.stderr
    assert f"pid {holder.pid}" in completed.stderr
    assert "--free-ports" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert "starting" not in completed.stdout


def test_second_demo_into_the_same_report_refuses(private_temp: Path) -> None:
    report = private_temp / "report.html"
    first = subprocess.Popen(
        [sys.executable, "-c", HOLD_LOCK, _demo_lock_name(report)],
        stdout=subprocess.PIPE,
        text=True,
    )
    try:
        assert first.stdout is not None
        assert first.stdout.readline().strip() == "held"
        completed = subprocess.run(
            [sys.executable, "-m", "tollgate.cli.main", "demo", "--report-html", str(report)],
            capture_output=True,
            text=True,
            timeout=60,
            check=False,
        )
    finally:
        first.kill()
        first.wait()
    assert completed.returncode == 1
    assert f"tollgate demo writing {report}" in completed.stderr
    assert "--report-html" in completed.stderr
    assert "Traceback" not in completed.stderr
    assert not report.exists()


def _demo_lock_name(report: Path) -> str:
    return "demo-" + hashlib.sha256(str(report.resolve()).encode()).hexdigest()[:12]


def test_ports_in_use_finds_a_listener_and_nothing_else() -> None:
    with socket.socket() as listener:
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        taken = listener.getsockname()[1]
        with socket.socket() as spare:
            spare.bind(("127.0.0.1", 0))
            free = spare.getsockname()[1]
        assert ports_in_use({"gateway": taken, "cache": free}) == [("gateway", taken)]


def test_ports_in_use_sees_a_listener_that_allows_port_sharing() -> None:
    """gRPC servers set SO_REUSEPORT; a second suite would then share the port silently."""
    with socket.socket() as listener:
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEPORT, 1)
        listener.bind(("127.0.0.1", 0))
        listener.listen()
        port = listener.getsockname()[1]
        assert ports_in_use({"gateway": port}) == [("gateway", port)]
