"""The train command: fit on a CSV of raw events, judge on a holdout, load the model, score with
it; small, separable, BOM-marked, Latin-1 and bad CSVs are handled without a traceback."""

from __future__ import annotations

import csv
import json
from pathlib import Path

import numpy as np
import pytest

from tollgate.lead_scoring.__main__ import main
from tollgate.lead_scoring.features import FEATURE_NAMES
from tollgate.lead_scoring.model import LogisticModel, load_model
from tollgate.lead_scoring.scorer import LeadScorer
from tollgate.lead_scoring.synthetic import write_synthetic_csv
from tollgate.lead_scoring.training import TrainingError, TrainingSettings, fit_logistic, train

from .conftest import AS_OF, FULL_ANSWERS, make_lead, scoring_settings


def test_fit_recovers_known_coefficients() -> None:
    rng = np.random.default_rng(3)
    x = rng.normal(size=(20_000, 2))
    true_w, true_b = np.array([1.5, -2.0]), -0.5
    y = (rng.random(20_000) < 1 / (1 + np.exp(-(x @ true_w + true_b)))).astype(float)
    w, b, means, scales = fit_logistic(x, y, l2=0.0)
    # Back from standardised units to the raw features.
    raw_w = w / scales
    raw_b = b - float(np.sum(w * means / scales))
    assert raw_w == pytest.approx(true_w, abs=0.1)
    assert raw_b == pytest.approx(true_b, abs=0.1)


def test_l2_shrinks_coefficients() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(300, 3))
    y = (x[:, 0] + rng.normal(size=300) > 0).astype(float)
    loose, _, _, _ = fit_logistic(x, y, l2=0.0)
    tight, _, _, _ = fit_logistic(x, y, l2=100.0)
    assert np.linalg.norm(tight) < np.linalg.norm(loose)


def test_train_round_trip_fit_load_score(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data, out = tmp_path / "leads.csv", tmp_path / "model.json"
    write_synthetic_csv(data, rows=1500, seed=11)
    assert main(["train", "--csv", str(data), "--out", str(out), "--l2", "0.5"]) == 0
    printed = capsys.readouterr().out
    assert "holdout (375 rows, not used to fit): AUC" in printed
    assert "calibration on the holdout:" in printed
    model = load_model(out)
    assert model.feature_names == FEATURE_NAMES
    t = model.training
    assert (t["rows"], t["fit_rows"], t["holdout_rows"]) == (1500, 1125, 375)
    assert t["holdout_auc"] > 0.65  # it learned something from the synthetic signal
    assert 0 < t["holdout_log_loss"] < 0.69  # better than a coin
    assert sum(row["leads"] for row in t["calibration"]) == 375
    assert model.l2 == 0.5
    assert not model.trained_on_synthetic_data  # not marked so: only --synthetic-data does
    # Engagement and qualification raise the odds in the synthetic data; the fit must agree.
    weights = dict(zip(model.feature_names, model.coefficients, strict=True))
    assert weights["qualification_points"] > 0
    assert weights["quiet_days"] < 0
    scorer = LeadScorer(model, scoring_settings(), None)
    keen = scorer.score_offline(
        make_lead(answers=FULL_ANSWERS, events=[(2, 1), (4, 2), (2, 3)]), AS_OF
    )
    cold = scorer.score_offline(make_lead(events=[(1, 80)]), AS_OF)
    assert keen.model_version == model.version
    keen_conversion = next(c.value for c in keen.components if c.name == "conversion")
    cold_conversion = next(c.value for c in cold.components if c.name == "conversion")
    assert keen_conversion > cold_conversion
    assert keen.score > cold.score


def test_model_version_covers_the_data_and_the_settings(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    write_synthetic_csv(data, rows=400, seed=5)
    base = train(data, tmp_path / "a.json").model.version
    assert train(data, tmp_path / "b.json").model.version == base
    assert train(data, tmp_path / "c.json", TrainingSettings(l2=2.0)).model.version != base
    assert train(data, tmp_path / "d.json", TrainingSettings(seed=8)).model.version != base
    data.write_text(data.read_text().replace("website", "web site", 1))
    assert train(data, tmp_path / "e.json").model.version != base


def test_shipped_model_matches_the_shipped_synthetic_data(tmp_path: Path) -> None:
    shipped = load_model()
    assert shipped.trained_on_synthetic_data
    data = Path(__file__).parents[1] / "src/tollgate/lead_scoring/data/synthetic_leads.csv"
    refit = train(
        data, tmp_path / "refit.json", TrainingSettings(l2=shipped.l2, synthetic_data=True)
    )
    assert refit.model.version == shipped.version
    assert refit.model.coefficients == pytest.approx(shipped.coefficients, abs=1e-9)


def test_small_data_warns(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    data = tmp_path / "leads.csv"
    write_synthetic_csv(data, rows=30, seed=2)
    assert main(["train", "--csv", str(data), "--out", str(tmp_path / "m.json")]) == 0
    assert "warning: small data: 30 rows" in capsys.readouterr().err


def test_separable_data_without_penalty_warns(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "leads.csv"
    write_synthetic_csv(data, rows=300, seed=3)
    rows = list(csv.DictReader(data.open()))
    for row in rows:
        # The outcome is exactly "answered the budget question": perfectly separable.
        row["converted"] = "1" if row["budget"] else "0"
    _write(data, rows, list(rows[0]))
    code = main(["train", "--csv", str(data), "--out", str(tmp_path / "m.json"), "--l2", "0"])
    err = capsys.readouterr().err
    assert code in (0, 2)
    assert "Traceback" not in err
    assert "separable" in err


def test_excel_bom_and_latin1_files_are_read(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    data = tmp_path / "leads.csv"
    write_synthetic_csv(data, rows=200, seed=4)
    text = data.read_text(encoding="utf-8").replace("Brooklyn", "Montréal")
    bom = tmp_path / "bom.csv"
    bom.write_bytes(text.encode("utf-8-sig"))
    assert main(["train", "--csv", str(bom), "--out", str(tmp_path / "a.json")]) == 0
    latin = tmp_path / "latin.csv"
    latin.write_bytes(text.encode("latin-1"))
    assert main(["train", "--csv", str(latin), "--out", str(tmp_path / "b.json")]) == 0
    assert "is not UTF-8" in capsys.readouterr().err


def test_events_after_the_snapshot_do_not_leak(tmp_path: Path) -> None:
    data = tmp_path / "leads.csv"
    write_synthetic_csv(data, rows=200, seed=6)
    rows = list(csv.DictReader(data.open()))
    for row in rows:
        if row["converted"] == "1":
            row["events"] += ";visit@2099-01-01T00:00:00Z"
    _write(data, rows, list(rows[0]))
    report = train(data, tmp_path / "m.json")
    assert any("dated after their row's snapshot_at" in w for w in report.warnings)
    clean = tmp_path / "clean.csv"
    write_synthetic_csv(clean, rows=200, seed=6)
    assert report.model.coefficients == pytest.approx(
        train(clean, tmp_path / "c.json").model.coefficients
    )


def _write(path: Path, rows: list[dict[str, str]], header: list[str]) -> None:
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=header)
        writer.writeheader()
        writer.writerows(rows)


def test_missing_columns_are_named(tmp_path: Path) -> None:
    path = tmp_path / "bad.csv"
    _write(path, [{"source": "web", "converted": "1"}], ["source", "converted"])
    with pytest.raises(TrainingError, match="missing column"):
        train(path, tmp_path / "m.json")
    assert not (tmp_path / "m.json").exists()


def test_bad_cell_names_line_and_column(tmp_path: Path) -> None:
    good, bad = tmp_path / "good.csv", tmp_path / "bad.csv"
    write_synthetic_csv(good, rows=50, seed=1)
    rows = list(csv.DictReader(good.open()))
    rows[2]["events"] = "reply@yesterday"
    _write(bad, rows, list(rows[0]))
    with pytest.raises(TrainingError, match=r"bad.csv:4: column 'events'"):
        train(bad, tmp_path / "m.json")


def test_cli_reports_errors_without_a_traceback(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert main(["train", "--csv", str(tmp_path / "absent.csv"), "--out", "x.json"]) == 2
    assert "train:" in capsys.readouterr().err


def test_a_model_file_of_another_shape_is_refused() -> None:
    data = json.loads(load_model().to_json())
    data["feature_names"] = data["feature_names"][:-1]
    with pytest.raises(ValueError, match="differ in size"):
        LogisticModel.from_json(json.dumps(data))
