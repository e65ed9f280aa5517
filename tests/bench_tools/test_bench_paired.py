"""bench.paired: two suites measured side by side, its arithmetic, and its handling of each
variant's settings."""

from __future__ import annotations

import os
import sys

import pytest

from bench.paired import Round, Variant, _variables, main, measure_pairs, render
from bench.peer import ONE, PASS_THROUGH, SEVEN


def test_a_pair_is_the_median_of_its_rounds_and_the_result_the_pairs_geometric_mean() -> None:
    a = Variant("this checkout abc", "python", {})
    b = Variant("this checkout abc with LD_PRELOAD=libjemalloc.so.2", "python", {})
    # Pair one's rounds: 1.0, 0.5, 1.5 (median 1.0); pair two's: 0.8, 0.9, 0.8 (median 0.8).
    first = [Round(3.0, 3.0), Round(2.0, 4.0), Round(4.5, 3.0)]
    second = [Round(2.4, 3.0), Round(2.7, 3.0), Round(4.0, 5.0)]
    table = render(a, b, {"governance (budgets + exact cache)": [first, second]})
    row = table.splitlines()[-1]
    # Geometric mean of 1.0 and 0.8: 0.894; the pairs from 0.8 to 1.0.
    assert row.endswith("| 0.894 | 0.800 to 1.000 |"), row
    assert "1.000 (0.500 to 1.500), 0.800 (0.800 to 0.900)" in row
    assert table.startswith(f"A: {a.name}; B: {b.name}.")


def test_settings_are_name_equals_value_and_anything_else_is_refused() -> None:
    assert _variables(["LD_PRELOAD=libjemalloc.so.2", "EMPTY="]) == {
        "LD_PRELOAD": "libjemalloc.so.2",
        "EMPTY": "",
    }
    for wrong in ("LD_PRELOAD", "=libjemalloc.so.2"):
        with pytest.raises(SystemExit, match="is not NAME=VALUE"):
            _variables([wrong])


@pytest.mark.parametrize("wrong", [["--pairs", "0"], ["--rounds", "0"], ["--seconds", "0"]])
def test_no_pairs_no_rounds_or_no_time_is_refused_before_anything_starts(
    wrong: list[str], capsys: pytest.CaptureFixture[str]
) -> None:
    with pytest.raises(SystemExit):
        main(wrong)
    expected = "--pairs and --rounds must be at least 1, --seconds more than 0"
    assert expected in capsys.readouterr().err


@pytest.mark.timeout(300)
@pytest.mark.parametrize("deployment", [ONE, SEVEN])
async def test_two_suites_run_side_by_side_and_every_round_measures_both(
    deployment: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The emulator, never the real API.
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    monkeypatch.delenv("TOLLGATE_GATEWAY_LOG_LEVEL", raising=False)
    a = Variant("a", sys.executable, {})
    b = Variant("b", sys.executable, {"TOLLGATE_GATEWAY_LOG_LEVEL": "WARNING"})
    # Two pairs, the second started B first, of one short round each.
    pairs = await measure_pairs(a, b, PASS_THROUGH, 2, 1, 0.5, deployment)
    assert [len(rounds) for rounds in pairs] == [1, 1]
    for each in (r for rounds in pairs for r in rounds):
        # CPU per request of whole processes serving Complete calls: well above zero, and far
        # below the half second a round lasts.
        assert 0.05 < each.a_ms < 500, each
        assert 0.05 < each.b_ms < 500, each
    # B's setting went to B's suites (local_suite's extra_env), not into this process.
    assert "TOLLGATE_GATEWAY_LOG_LEVEL" not in os.environ
