"""Fitting the conversion model: L2-regularised logistic regression by IRLS (Newton steps)."""

from __future__ import annotations

import csv
import hashlib
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import numpy.typing as npt

from tollgate.lead_scoring.features import (
    CSV_COLUMNS,
    FEATURE_NAMES,
    OUTCOME_COLUMN,
    facts_from_row,
    feature_vector,
)
from tollgate.lead_scoring.model import LogisticModel

Matrix = npt.NDArray[np.float64]


class TrainingError(ValueError):
    """The CSV cannot be fitted; the message says what to fix."""


def read_training_csv(path: Path) -> tuple[Matrix, Matrix]:
    """Features and 0/1 outcomes of every row of the CSV."""
    rows: list[list[float]] = []
    outcomes: list[float] = []
    with path.open(newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        missing = [c for c in (*CSV_COLUMNS, OUTCOME_COLUMN) if c not in (reader.fieldnames or [])]
        if missing:
            raise TrainingError(f"{path}: missing column(s) {', '.join(missing)}")
        for line, row in enumerate(reader, start=2):
            outcome = (row[OUTCOME_COLUMN] or "").strip().lower()
            if outcome not in ("0", "1", "true", "false"):
                raise TrainingError(f"{path}:{line}: 'converted' must be 0 or 1, not {outcome!r}")
            try:
                rows.append(feature_vector(facts_from_row(row)))
            except ValueError as exc:
                raise TrainingError(f"{path}:{line}: {exc}") from None
            outcomes.append(1.0 if outcome in ("1", "true") else 0.0)
    if len(rows) < 20:
        raise TrainingError(f"{path}: at least 20 rows are needed, found {len(rows)}")
    y = np.asarray(outcomes)
    if y.min() == y.max():
        raise TrainingError(f"{path}: outcomes must include both converted and not converted leads")
    return np.asarray(rows, dtype=np.float64), y


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


def train(csv_path: Path, out_path: Path, l2: float = 1.0) -> LogisticModel:
    """Fit on `csv_path` and write the model JSON to `out_path` (atomically)."""
    if l2 < 0:
        raise TrainingError("l2 must be zero or more")
    x, y = read_training_csv(csv_path)
    coefficients, intercept, means, scales = fit_logistic(x, y, l2=l2)
    design = (x - means) / scales
    probabilities = _sigmoid(design @ coefficients + intercept)
    digest = hashlib.sha256(csv_path.read_bytes()).hexdigest()[:12]
    model = LogisticModel(
        version=f"logistic-{digest}",
        feature_names=FEATURE_NAMES,
        means=tuple(float(v) for v in means),
        scales=tuple(float(v) for v in scales),
        coefficients=tuple(float(v) for v in coefficients),
        intercept=intercept,
        l2=l2,
        training={
            "rows": len(y),
            "converted": int(y.sum()),
            "log_loss": round(log_loss(probabilities, y), 6),
            "auc": round(auc(probabilities, y), 6),
            "data_sha256_prefix": digest,
        },
    )
    out_path.parent.mkdir(parents=True, exist_ok=True)
    # Write beside the target and rename, so a reader never sees half a model.
    partial = out_path.with_name(out_path.name + ".partial")
    partial.write_text(model.to_json(), encoding="utf-8")
    partial.replace(out_path)
    return model
