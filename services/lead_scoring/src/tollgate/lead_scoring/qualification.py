"""The qualification signal: the seven questions answered and how well (0-7 → 0-100)."""

from __future__ import annotations

from dataclasses import dataclass

from tollgate.lead_scoring.answers import QUESTIONS, AnswerAssessment, ReadAnswers


@dataclass(frozen=True)
class QualificationResult:
    # 0..7: one point per specific answer, half a point per answer that says nothing.
    points: float
    # points / 7 on a 0..100 scale.
    value: float
    answered: int
    specific: int
    assessments: tuple[AnswerAssessment, ...]

    @property
    def missing(self) -> list[str]:
        return [a.question for a in self.assessments if not a.answered]

    @property
    def explanation(self) -> str:
        vague = [a.question for a in self.assessments if a.answered and not a.specific]
        parts = [
            f"Answered {self.answered} of {len(QUESTIONS)} questions, "
            f"{self.specific} with a usable answer ({self.points:g}/7 points)"
        ]
        if self.missing:
            parts.append("still to ask: " + ", ".join(q.replace("_", " ") for q in self.missing))
        if vague:
            parts.append("no real answer yet on: " + ", ".join(q.replace("_", " ") for q in vague))
        return "; ".join(parts) + "."


def score_qualification(answers: ReadAnswers) -> QualificationResult:
    assessments = tuple(answers.assess())
    points = sum(a.points for a in assessments)
    return QualificationResult(
        points=points,
        value=points / len(QUESTIONS) * 100.0,
        answered=sum(a.answered for a in assessments),
        specific=sum(a.specific for a in assessments),
        assessments=assessments,
    )
