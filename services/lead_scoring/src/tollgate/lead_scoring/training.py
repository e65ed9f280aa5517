"""Fitting the conversion model: L2-regularised logistic regression by IRLS (Newton steps).

The rows are split once, by a seeded shuffle, into a fitting part and a holdout the fit never
sees; the model is fitted on the first and judged on the second (AUC, log loss, a calibration
table), so the figures say how it does on leads it has not seen. Small data and (nearly)
separable data are reported as warnings, because both make the figures look better than the
model is.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import numpy.typing as npt

from tollgate.lead_scoring.features import FEATURE_NAMES, feature_vector
from tollgate.lead_scoring.model import LogisticModel
from tollgate.lead_scoring.training_data import TrainingDataError, read_training_rows

Matrix = npt.NDArray[np.float64]

MIN_ROWS = 20
# Below these a holdout figure moves a lot from one split to the next.
SMALL_ROWS = 500
SMALL_HOLDOUT_POSITIVES = 30
# A holdout or fitting AUC this close to 1, or coefficients this large (in standard deviations),
# means the classes are (nearly) separable: the fit is certain where it has no right to be.
SEPARABLE_AUC = 0.995
SEPARABLE_COEFFICIENT = 8.0
CALIBRATION_BINS = 5


class TrainingError(ValueError):
    """The CSV cannot be fitted; the message says what to fix."""


@dataclass(frozen=True)
class TrainingSettings:
    l2: float = 1.0
    holdout_share: float = 0.25
    seed: int = 7
    # The data were generated, not observed; the model says so to every caller.
    synthetic_data: bool = False


@dataclass
class TrainingReport:
    model: LogisticModel
    warnings: list[str] = field(default_factory=list)

    @property
    def figures(self) -> dict[str, Any]:
        return self.model.training


def _sigmoid(z: Matrix) -> Matrix:
    out: Matrix = 1.0 / (1.0 + np.exp(-np.clip(z, -35.0, 35.0)))
    return out


def fit_logistic(
    x: Matrix, y: Matrix, l2: float = 1.0, max_iterations: int = 50, tolerance: float = 1e-8
) -> tuple[Matrix, float, Matrix, Matrix]:
    """Coefficients (on standardised features), intercept, means, scales.

    The penalty ½·l2·‖w‖² leaves the intercept free, so it only shrinks feature effects.
    """
    means = x.mean(axis=0)
    scales = x.std(axis=0)
    # A constant column carries no information; a unit scale keeps it harmless.
    scales[scales < 1e-12] = 1.0
    design = np.hstack([np.ones((x.shape[0], 1)), (x - means) / scales])
    penalty = np.full(design.shape[1], l2)
    penalty[0] = 0.0
    weights = np.zeros(design.shape[1])
    for _ in range(max_iterations):
        p = _sigmoid(design @ weights)
        gradient = design.T @ (p - y) + penalty * weights
        curvature = np.maximum(p * (1.0 - p), 1e-10)
        hessian = (design * curvature[:, None]).T @ design + np.diag(penalty)
        step = np.linalg.solve(hessian, gradient)
        weights -= step
        if float(np.max(np.abs(step))) < tolerance:
            break
    return weights[1:], float(weights[0]), means, scales


def log_loss(probabilities: Sequence[float] | Matrix, y: Matrix) -> float:
    p = np.clip(np.asarray(probabilities, dtype=np.float64), 1e-12, 1 - 1e-12)
    return float(-np.mean(y * np.log(p) + (1 - y) * np.log(1 - p)))


def auc(scores: Matrix, y: Matrix) -> float:
    """Area under the ROC curve by the rank-sum formula (ties get average ranks)."""
    order = np.argsort(scores, kind="mergesort")
    ranks = np.empty(len(scores))
    sorted_scores = scores[order]
    i = 0
    while i < len(scores):
        j = i
        while j + 1 < len(scores) and sorted_scores[j + 1] == sorted_scores[i]:
            j += 1
        ranks[order[i : j + 1]] = (i + j) / 2.0 + 1.0
        i = j + 1
    positives = float(y.sum())
    negatives = len(y) - positives
    return float((ranks[y == 1].sum() - positives * (positives + 1) / 2) / (positives * negatives))


def calibration_table(
    probabilities: Matrix, y: Matrix, bins: int = CALIBRATION_BINS
) -> list[dict[str, float]]:
    """Leads grouped by predicted probability (equal-count bins): predicted vs observed rate."""
    order = np.argsort(probabilities, kind="mergesort")
    table = []
    for part in np.array_split(order, bins):
        if len(part) == 0:
            continue
        table.append(
            {
                "leads": len(part),
                "predicted": round(float(probabilities[part].mean()), 4),
                "observed": round(float(y[part].mean()), 4),
            }
        )
    return table


def _split(
    rows: int, settings: TrainingSettings
) -> tuple[npt.NDArray[np.int64], npt.NDArray[np.int64]]:
    order = np.random.default_rng(settings.seed).permutation(rows)
    cut = round(rows * settings.holdout_share)
    return order[cut:], order[:cut]


def _version(data: bytes, settings: TrainingSettings) -> str:
    """Names the data, the settings and the features: any change gives another version."""
    digest = hashlib.sha256(data)
    digest.update(
        json.dumps(
            [
                settings.l2,
                settings.holdout_share,
                settings.seed,
                settings.synthetic_data,
                FEATURE_NAMES,
            ]
        ).encode()
    )
    return f"logistic-{digest.hexdigest()[:12]}"


def _warnings(
    rows: int, holdout_y: Matrix, fit_auc: float, holdout_auc: float, coefficients: Matrix
) -> list[str]:
    found = []
    positives = int(holdout_y.sum())
    if rows < SMALL_ROWS or positives < SMALL_HOLDOUT_POSITIVES:
        found.append(
            f"small data: {rows} rows, {positives} converted leads in the holdout; the holdout "
            f"figures are rough (aim for {SMALL_ROWS}+ rows and {SMALL_HOLDOUT_POSITIVES}+ "
            "conversions in the holdout)."
        )
    largest = float(np.max(np.abs(coefficients))) if len(coefficients) else 0.0
    if fit_auc >= SEPARABLE_AUC or holdout_auc >= SEPARABLE_AUC or largest >= SEPARABLE_COEFFICIENT:
        found.append(
            f"separable data: fitting AUC {fit_auc:.3f}, holdout AUC {holdout_auc:.3f}, largest "
            f"coefficient {largest:.1f}; the outcome is (nearly) determined by the features, "
            "often a sign that a feature leaks the outcome or the data are too few. "
            "Probabilities will be overconfident; use a larger --l2 and check the data."
        )
    return found


def train(
    csv_path: Path, out_path: Path, settings: TrainingSettings | None = None
) -> TrainingReport:
    """Fit on `csv_path`, judge on its holdout, write the model JSON to `out_path` atomically."""
    settings = settings or TrainingSettings()
    if settings.l2 < 0:
        raise TrainingError("--l2 must be zero or more")
    if not 0.05 <= settings.holdout_share <= 0.5:
        raise TrainingError("--holdout must be between 0.05 and 0.5")
    try:
        data = read_training_rows(csv_path)
    except TrainingDataError as exc:
        raise TrainingError(str(exc)) from None
    rows = len(data.outcomes)
    if rows < MIN_ROWS:
        raise TrainingError(f"{csv_path}: at least {MIN_ROWS} rows are needed, found {rows}")
    x = np.asarray([feature_vector(lead) for lead in data.leads], dtype=np.float64)
    y = np.asarray(data.outcomes)
    fit_rows, holdout_rows = _split(rows, settings)
    for name, part in (("fitting part", fit_rows), ("holdout", holdout_rows)):
        if y[part].min() == y[part].max():
            raise TrainingError(
                f"{csv_path}: the {name} has only {'converted' if y[part][0] else 'unconverted'} "
                "leads; both outcomes are needed (add rows or change --seed)"
            )
    try:
        coefficients, intercept, means, scales = fit_logistic(
            x[fit_rows], y[fit_rows], l2=settings.l2
        )
    except np.linalg.LinAlgError:
        raise TrainingError(
            "the fit did not converge: the data are separable or a feature is constant in a way "
            "the solver cannot handle; use a larger --l2"
        ) from None
    if not (np.all(np.isfinite(coefficients)) and np.isfinite(intercept)):
        raise TrainingError("the fit did not converge (separable data?); use a larger --l2")

    def predict(part: npt.NDArray[np.int64]) -> Matrix:
        return _sigmoid(((x[part] - means) / scales) @ coefficients + intercept)

    fit_p, holdout_p = predict(fit_rows), predict(holdout_rows)
    fit_auc, holdout_auc = auc(fit_p, y[fit_rows]), auc(holdout_p, y[holdout_rows])
    warnings = data.warnings + _warnings(rows, y[holdout_rows], fit_auc, holdout_auc, coefficients)
    model = LogisticModel(
        version=_version(csv_path.read_bytes(), settings),
        feature_names=FEATURE_NAMES,
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        coefficients=tuple(float(v) for v in coefficients),
        intercept=intercept,
        l2=settings.l2,
        training={
            "rows": rows,
            "converted": int(y.sum()),
            "fit_rows": len(fit_rows),
            "holdout_rows": len(holdout_rows),
            "holdout_share": settings.holdout_share,
            "seed": settings.seed,
            "holdout_auc": round(holdout_auc, 6),
            "holdout_log_loss": round(log_loss(holdout_p, y[holdout_rows]), 6),
            "holdout_base_rate": round(float(y[holdout_rows].mean()), 6),
            "fit_auc": round(fit_auc, 6),
            "calibration": calibration_table(holdout_p, y[holdout_rows]),
            "data_sha256": hashlib.sha256(csv_path.read_bytes()).hexdigest(),
            "synthetic": settings.synthetic_data,
            "warnings": warnings,
        },
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a model.
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_text(model.to_json(), encoding="utf-8")
    partial.replace(out_path)
    return TrainingReport(model, warnings)
