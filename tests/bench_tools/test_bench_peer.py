"""bench.peer's accounting: whose CPU is counted, and how the goals' verdicts are computed."""

from __future__ import annotations

import subprocess
import sys

import psutil
import pytest

from bench.overhead import Run
from bench.peer import (
    CLIENTS,
    FLOOR,
    GOVERNANCE,
    LITELLM,
    ONE,
    PASS_THROUGH,
    SEVEN,
    Figures,
    goal_lines,
    own_cpu_seconds,
    tree_cpu_seconds,
)

BURN = "import time\nend = time.process_time() + {seconds}\nwhile time.process_time() < end: pass"


def test_the_cpu_of_a_process_includes_its_children_running_and_exited_its_own_does_not() -> None:
    # A parent that starts one child burning 0.4 s and waits for it, then burns 0.2 s itself.
    script = (
        "import subprocess, sys, time\n"
        f"subprocess.run([sys.executable, '-c', {BURN.format(seconds=0.4)!r}])\n"
        + BURN.format(seconds=0.2)
    )
    # It says when both burns are done: waiting for the tree's total instead could read the
    # parent's own CPU while it is still burning.
    done = "\nprint('burnt', flush=True)\ntime.sleep(30)"
    parent = subprocess.Popen(
        [sys.executable, "-c", script + done], stdout=subprocess.PIPE, text=True
    )
    assert parent.stdout is not None
    try:
        handle = psutil.Process(parent.pid)
        before = tree_cpu_seconds([handle])
        assert parent.stdout.readline().strip() == "burnt"
        assert tree_cpu_seconds([handle]) - before >= 0.55
        # Its own CPU leaves the child out: its 0.2 s and its start, not the child's 0.4 s.
        assert 0.15 <= own_cpu_seconds(handle) < 0.55
        # The same process listed twice is counted once.
        assert abs(tree_cpu_seconds([handle, handle]) - tree_cpu_seconds([handle])) < 0.05
    finally:
        parent.kill()
        parent.wait()
        parent.stdout.close()


def _figures(
    setup: str,
    code: str,
    requests: int,
    cpu_seconds: float,
    seconds: float,
    deployment: str = SEVEN,
) -> Figures:
    run = Run([1.0] * requests, seconds)
    return Figures(setup, code, run, run, run, {"gateway": cpu_seconds}, 0.0, deployment=deployment)


def test_verdicts_compare_this_checkout_with_the_goals_and_ignore_the_baseline() -> None:
    figures = [
        _figures(LITELLM, "LiteLLM 1.106.2", 100, 1.0, 10.0, deployment=""),  # 10 req/s
        _figures(FLOOR, "grpcio 1.85.1", 1000, 0.6, 10.0),  # 0.6 ms
        _figures(PASS_THROUGH, "baseline abc", 1000, 9.0, 10.0),  # 9 ms: not judged
        _figures(PASS_THROUGH, "this checkout def", 1000, 0.9, 10.0),  # 0.9 ms
        _figures(GOVERNANCE, "this checkout def", 400, 1.2, 10.0),  # 3 ms, 40 req/s
        _figures(GOVERNANCE, "this checkout def", 600, 1.14, 10.0, ONE),  # 1.9 ms, 60 req/s
    ]
    lines = "\n".join(goal_lines(figures))
    # The stack's floor of the same deployment is shown beside pass-through, the setup it is
    # the floor of, and judges nothing.
    assert (
        f"| {PASS_THROUGH}, {SEVEN}: server CPU per request | ≤ 1 ms | 0.90 ms | 0.60 ms "
        "| met |" in lines
    )
    assert (
        f"| {GOVERNANCE}, {SEVEN}: server CPU per request | ≤ 2 ms | 3.00 ms "
        "|  | missed (1.5x the goal) |" in lines
    )
    assert f"{SEVEN}: req/s at {CLIENTS} over LiteLLM's | ≥ 5x | 4.00x |  | missed |" in lines
    assert f"| {GOVERNANCE}, {ONE}: server CPU per request | ≤ 2 ms | 1.90 ms |  | met |" in lines
    assert f"{ONE}: req/s at {CLIENTS} over LiteLLM's | ≥ 5x | 6.00x |  | met |" in lines
    # Each deployment is judged on its own figures only; a setup not run is not judged.
    assert f"{PASS_THROUGH}, {ONE}" not in lines
    assert f"{FLOOR}," not in lines
    assert "9.00" not in lines


def test_a_cell_is_its_median_round_and_is_judged_on_it_with_the_spread_shown() -> None:
    from bench.peer import _Round, median_round

    def one_round(requests: int, cpu_seconds: float) -> _Round:
        return _Round(Run([1.0] * requests, 10.0), {"gateway": cpu_seconds}, 0.0, 0, {})

    rounds = [one_round(1000, 2.4), one_round(1000, 1.9), one_round(1000, 2.1)]
    assert median_round(rounds) is rounds[2]
    figures = _figures(GOVERNANCE, "this checkout def", 1000, 2.1, 10.0)
    figures.round_cpu_ms = [r.cpu_ms for r in rounds]
    lines = "\n".join(goal_lines([figures]))
    assert (
        f"| {GOVERNANCE}, {SEVEN}: server CPU per request | ≤ 2 ms | 2.10 ms (1.90 to 2.40) "
        "|  | missed (1.1x the goal) |" in lines
    )


def test_the_emulator_and_load_generator_are_shown_but_not_counted_as_server_cpu() -> None:
    from bench.peer import EMULATOR_COLUMN, LOAD_COLUMN, render

    figures = _figures(GOVERNANCE, "this checkout def", 1000, 2.0, 10.0)
    figures.beside_cpu_seconds = {EMULATOR_COLUMN: 0.7, LOAD_COLUMN: 0.5}
    report = render([figures], [], 10.0)
    # Server CPU per request stays the gateway's 2.00 ms; the two beside it are shown apart.
    assert figures.service_cpu_ms == 2.0
    header = next(line for line in report.splitlines() if EMULATOR_COLUMN in line)
    assert header == f"| setup | code | gateway | {EMULATOR_COLUMN} | {LOAD_COLUMN} |"
    assert f"| {GOVERNANCE}, {SEVEN} | this checkout def | 2.00 | 0.70 | 0.50 |" in report
    # The main table's server CPU is the gateway's alone, not 3.20 with the two beside it.
    assert f"| {GOVERNANCE}, {SEVEN} | this checkout def | 100 | 2.00 | 0.00 |" in report


async def test_a_cell_whose_request_fails_is_measured_again_and_says_so(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import grpc

    from bench import peer
    from tollgate.client.errors import TollgateError

    measured = _figures(GOVERNANCE, "this checkout def", 1000, 2.0, 10.0)
    outcomes: list[object] = [TollgateError(grpc.StatusCode.UNAVAILABLE, "ledger down"), measured]

    async def cell(*_: object) -> Figures:
        outcome = outcomes.pop(0)
        if isinstance(outcome, Exception):
            raise outcome
        assert isinstance(outcome, Figures)
        return outcome

    monkeypatch.setattr(peer, "tollgate", cell)
    notes: list[str] = []
    again = peer._tollgate_once_more_if_it_fails(GOVERNANCE, SEVEN, "py", "c", 1.0, 1, notes)
    assert await again is measured
    assert notes == [
        f"{GOVERNANCE}, {SEVEN}, c: a request failed (UNAVAILABLE: ledger down); measured again"
    ]
    # Failing twice: not measured, and the notes say so.
    outcomes[:] = [TollgateError(grpc.StatusCode.UNAVAILABLE, "ledger down")] * 2
    notes.clear()
    twice = peer._tollgate_once_more_if_it_fails(GOVERNANCE, SEVEN, "py", "c", 1.0, 1, notes)
    assert await twice is None
    assert notes[-1] == (
        f"{GOVERNANCE}, {SEVEN}, c: not measured: a request failed (UNAVAILABLE: ledger down) again"
    )
