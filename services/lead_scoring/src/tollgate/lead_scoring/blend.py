"""The final score: a weighted blend of the available signals, its confidence and class.

Only available signals take part; their configured weights are renormalised to add up to 1, so a
missing signal shifts its share to the others instead of dragging the score down. Each
contribution is rounded to 4 decimals and the score is their sum, so the contributions in the
response add up to the score exactly. Confidence is the weight-averaged coverage of every signal
that was asked for (an unavailable one covers 0), so a failed reasoning call lowers it.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from enum import Enum

CONTRIBUTION_DECIMALS = 4


class LeadClass(Enum):
    HOT = "hot"
    WARM = "warm"
    COLD = "cold"


@dataclass(frozen=True)
class Signal:
    name: str
    available: bool
    # The signal on its own 0..100 scale, as shown to the agent.
    value: float
    # What it adds to the score on a 0..100 scale where higher is better
    # (the value itself, or 100 - value for a risk).
    merit: float
    configured_weight: float
    # 0..1: how complete the evidence behind the signal is.
    coverage: float
    explanation: str


@dataclass(frozen=True)
class Component:
    signal: Signal
    # Renormalised weight (0 when the signal is unavailable).
    weight: float
    contribution: float


@dataclass(frozen=True)
class Blend:
    score: float
    confidence: float
    lead_class: LeadClass
    components: tuple[Component, ...]


def classify(score: float, hot_threshold: float, warm_threshold: float) -> LeadClass:
    if score >= hot_threshold:
        return LeadClass.HOT
    if score >= warm_threshold:
        return LeadClass.WARM
    return LeadClass.COLD


def blend(signals: Sequence[Signal], hot_threshold: float, warm_threshold: float) -> Blend:
    available_weight = sum(s.configured_weight for s in signals if s.available)
    components = []
    for signal in signals:
        if signal.available and available_weight > 0:
            weight = signal.configured_weight / available_weight
            contribution = round(weight * signal.merit, CONTRIBUTION_DECIMALS)
        else:
            weight, contribution = 0.0, 0.0
        components.append(Component(signal, weight, contribution))
    score = 0.0
    for component in components:
        score += component.contribution
    requested_weight = sum(s.configured_weight for s in signals)
    confidence = (
        sum(s.configured_weight * (s.coverage if s.available else 0.0) for s in signals)
        / requested_weight
        if requested_weight > 0
        else 0.0
    )
    return Blend(
        score=score,
        confidence=round(confidence, CONTRIBUTION_DECIMALS),
        lead_class=classify(score, hot_threshold, warm_threshold),
        components=tuple(components),
    )
