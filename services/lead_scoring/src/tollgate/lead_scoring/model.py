"""The conversion model: logistic regression on standardised features, stored as JSON."""

from __future__ import annotations

import json
import math
from dataclasses import asdict, dataclass, field
from importlib import resources
from pathlib import Path
from typing import Any

from tollgate.lead_scoring.features import FEATURE_NAMES

DEFAULT_MODEL_RESOURCE = "default_model.json"


@dataclass(frozen=True)
class LogisticModel:
    version: str
    feature_names: tuple[str, ...]
    # Standardisation fitted on the training data: x' = (x - mean) / scale.
    means: tuple[float, ...]
    scales: tuple[float, ...]
    coefficients: tuple[float, ...]
    intercept: float
    l2: float
    training: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        n = len(self.feature_names)
        if not (len(self.means) == len(self.scales) == len(self.coefficients) == n):
            raise ValueError("model file: features, means, scales and coefficients differ in size")
        if tuple(self.feature_names) != FEATURE_NAMES:
            raise ValueError(
                "model file: its features do not match this version of the service "
                f"(expected {', '.join(FEATURE_NAMES)})"
            )
        if any(s <= 0 or not math.isfinite(s) for s in self.scales):
            raise ValueError("model file: every scale must be a positive number")
        if not all(math.isfinite(v) for v in (*self.means, *self.coefficients, self.intercept)):
            raise ValueError("model file: means, coefficients and intercept must be finite")

    def logit(self, features: list[float]) -> float:
        total = self.intercept
        for x, mean, scale, coefficient in zip(
            features, self.means, self.scales, self.coefficients, strict=True
        ):
            total += coefficient * (x - mean) / scale
        return total

    def probability(self, features: list[float]) -> float:
        z = self.logit(features)
        # Split by sign so exp never overflows.
        if z >= 0:
            return 1.0 / (1.0 + math.exp(-z))
        ez = math.exp(z)
        return ez / (1.0 + ez)

    @property
    def trained_on_synthetic_data(self) -> bool:
        return bool(self.training.get("synthetic", False))

    def effects(self, features: list[float], reference: list[float]) -> list[tuple[str, float]]:
        """Each feature's push on the logit compared with `reference` (a lead that told us
        nothing), strongest first: what this lead's own facts did, not how it differs from an
        average of the training data."""
        effects = [
            (name, coefficient * (x - base) / scale)
            for name, x, base, scale, coefficient in zip(
                self.feature_names,
                features,
                reference,
                self.scales,
                self.coefficients,
                strict=True,
            )
        ]
        effects.sort(key=lambda item: abs(item[1]), reverse=True)
        return effects

    def to_json(self) -> str:
        data = asdict(self)
        data["feature_names"] = list(self.feature_names)
        for key in ("means", "scales", "coefficients"):
            data[key] = list(data[key])
        return json.dumps(data, indent=2) + "\n"

    @classmethod
    def from_json(cls, text: str) -> LogisticModel:
        try:
            data = json.loads(text)
            return cls(
                version=str(data["version"]),
                feature_names=tuple(data["feature_names"]),
                means=tuple(float(v) for v in data["means"]),
                scales=tuple(float(v) for v in data["scales"]),
                coefficients=tuple(float(v) for v in data["coefficients"]),
                intercept=float(data["intercept"]),
                l2=float(data.get("l2", 0.0)),
                training=dict(data.get("training", {})),
            )
        except (KeyError, TypeError, json.JSONDecodeError) as exc:
            raise ValueError(f"model file is not a valid lead scoring model: {exc}") from exc


def load_model(path: str | Path | None = None) -> LogisticModel:
    """The model at `path`, or the one shipped with the package."""
    if path:
        return LogisticModel.from_json(Path(path).read_text(encoding="utf-8"))
    shipped = resources.files("tollgate.lead_scoring") / "data" / DEFAULT_MODEL_RESOURCE
    return LogisticModel.from_json(shipped.read_text(encoding="utf-8"))
