"""bench.semantic_miss measures misses: every measured lookup is a real miss of the service's
semantic cache (a hit would stop the run) followed by a store, and its figure is that work's CPU."""

from __future__ import annotations

import subprocess
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]


def test_a_run_reports_the_cpu_of_its_misses() -> None:
    done = subprocess.run(
        [
            sys.executable,
            "-m",
            "bench.semantic_miss",
            "--runs",
            "1",
            "--fill",
            "16",
            "--misses",
            "48",
        ],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=True,
    )
    row = next(line for line in done.stdout.splitlines() if line.startswith("| this checkout"))
    mean = float(row.split("|")[2])
    # A lookup and a store take well over 0.1 ms of CPU (tokenizing, searching, the guard);
    # a run that skipped them would measure next to nothing.
    assert 0.1 < mean < 1000, row
