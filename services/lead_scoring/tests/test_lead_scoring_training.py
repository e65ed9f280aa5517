"""The train command: fit on a CSV, load the model, score with it; bad CSVs are refused."""

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
from tollgate.lead_scoring.training import TrainingError, fit_logistic, train

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


def test_train_round_trip_fit_load_score(tmp_path: Path) -> None:
    data, out = tmp_path / "leads.csv", tmp_path / "model.json"
    write_synthetic_csv(data, rows=1500, seed=11)
    assert main(["train", "--csv", str(data), "--out", str(out), "--l2", "0.5"]) == 0
    model = load_model(out)
    assert model.feature_names == FEATURE_NAMES
    assert model.training["rows"] == 1500
    assert model.training["auc"] > 0.65  # it learned something from the synthetic signal
    assert model.l2 == 0.5
    # Engagement and qualification raise the odds in the synthetic data; the fit must agree.
    weights = dict(zip(model.feature_names, model.coefficients, strict=True))
    assert weights["qualification_points"] > 0
    assert weights["quiet_days"] < 0
    scorer = LeadScorer(model, scoring_settings(), None)
    keen = scorer.score_offline(
        make_lead(answers=FULL_ANSWERS, events=[(2, 1), (4, 2), (2, 3)]), AS_OF
    )
    cold = scorer.score_offline(make_lead(created_days_ago=80), AS_OF)
    assert keen.model_version == model.version
    keen_conversion = next(c.value for c in keen.components if c.name == "conversion")
    cold_conversion = next(c.value for c in cold.components if c.name == "conversion")
    assert keen_conversion > cold_conversion
    assert keen.score > cold.score


def test_shipped_model_matches_the_shipped_synthetic_data(tmp_path: Path) -> None:
    shipped = load_model()
    data = Path(__file__).parents[1] / "src/tollgate/lead_scoring/data/synthetic_leads.csv"
    refit = train(data, tmp_path / "refit.json", l2=shipped.l2)
    assert refit.version == shipped.version
    assert refit.coefficients == pytest.approx(shipped.coefficients, abs=1e-9)


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
    lines = good.read_text().splitlines()
    header = lines[0].split(",")
    row = dict(zip(header, next(csv.reader([lines[3]])), strict=True))
    row["replies_30d"] = "lots"
    rows = [dict(zip(header, r, strict=True)) for r in csv.reader(lines[1:3])] + [row]
    _write(bad, rows, header)
    with pytest.raises(TrainingError, match=r"bad.csv:4: column 'replies_30d'"):
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
