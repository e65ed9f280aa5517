"""The next best action when Claude did not suggest one: a few plain rules, first match wins."""

from __future__ import annotations

from collections.abc import Mapping

from tollgate.lead_scoring import answers
from tollgate.lead_scoring.blend import LeadClass
from tollgate.lead_scoring.churn import ChurnResult
from tollgate.lead_scoring.qualification import QualificationResult

HIGH_CHURN_RISK = 70.0


def _channel(preference: str) -> str:
    text = preference.lower()
    if "text" in text or "sms" in text or "whatsapp" in text:
        return "text"
    if "mail" in text:
        return "email"
    return "phone"


def rule_based_action(
    lead_class: LeadClass,
    text: Mapping[str, str],
    qualification: QualificationResult,
    churn: ChurnResult,
) -> str:
    channel = _channel(text.get("contact_preference", ""))
    missing = [a.question.replace("_", " ") for a in qualification.assessments if not a.answered]
    approved = answers.is_pre_approved(text.get("pre_approval", ""))
    months = answers.timeline_months(text.get("timeline", ""))
    if lead_class is LeadClass.HOT and approved:
        return f"Reach out today by {channel} to book showings."
    if lead_class is LeadClass.HOT:
        return f"Reach out today by {channel} and introduce a lender for pre-approval."
    if not approved and months is not None and months <= 3:
        return "Introduce a lender: they plan to move soon and are not pre-approved."
    if churn.available and churn.risk >= HIGH_CHURN_RISK:
        return f"Re-engage with a personal check-in by {channel} and fresh listings."
    if len(missing) >= 3:
        return "Ask the missing qualification questions: " + ", ".join(missing) + "."
    if lead_class is LeadClass.WARM:
        return f"Send curated listings by {channel} and follow up in 2-3 days."
    return "Add to the monthly nurture campaign and revisit when they engage."
