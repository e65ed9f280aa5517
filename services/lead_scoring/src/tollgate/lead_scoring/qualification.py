"""The qualification signal: the seven questions answered and how well (0-7 → 0-100)."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass

from tollgate.lead_scoring.answers import QUESTIONS, AnswerAssessment, assess


@dataclass(frozen=True)
class QualificationResult:
    # 0..7: one point per specific answer, half a point per vague one.
    points: float
    # points / 7 on a 0..100 scale.
    value: float
    answered: int
    specific: int
    assessments: tuple[AnswerAssessment, ...]

    @property
    def explanation(self) -> str:
        missing = [a.question for a in self.assessments if not a.answered]
        vague = [a.question for a in self.assessments if a.answered and not a.specific]
        parts = [
            f"{self.answered} of {len(QUESTIONS)} questions answered, "
            f"{self.specific} specifically ({self.points:g}/7 points)"
        ]
        if missing:
            parts.append("missing: " + ", ".join(missing))
        if vague:
            parts.append("vague: " + ", ".join(vague))
        return "; ".join(parts) + "."


def score_qualification(answers: Mapping[str, str]) -> QualificationResult:
    assessments = tuple(assess(answers))
    points = sum(a.points for a in assessments)
    return QualificationResult(
        points=points,
        value=points / len(QUESTIONS) * 100.0,
        answered=sum(a.answered for a in assessments),
        specific=sum(a.specific for a in assessments),
        assessments=assessments,
    )
