"""How the lead will pay: cash, pre-approved, pre-qualified or nothing arranged yet.

Read in this order, so the stronger statement wins: cash ("No, paying cash" is a cash buyer,
not a "no"); an approval that has ended ("Yes, but it expired", a letter dated before `as_of`);
pre-qualification; an approval, unless negated in the same clause ("not approved yet"); then a
plain yes or no. Anything else, "I'm not sure" included, is unknown.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import date
from enum import StrEnum

from tollgate.lead_scoring.answer_dates import calendar_date, move_by
from tollgate.lead_scoring.answer_text import clauses, says_nothing


class Financing(StrEnum):
    UNKNOWN = "unknown"
    CASH = "cash"
    PRE_APPROVED = "pre_approved"
    PRE_QUALIFIED = "pre_qualified"
    NONE = "none"


@dataclass(frozen=True)
class FinancingState:
    financing: Financing
    # Last day a pre-approval is valid, when the answer says.
    expires: date | None = None

    @property
    def ready(self) -> bool:
        """Can make an offer now: cash, or a valid pre-approval."""
        return self.financing in (Financing.CASH, Financing.PRE_APPROVED)


_NEGATION = r"\b(?:no|not|never|without|haven'?t|hasn'?t|have not|isn'?t|aren'?t|don'?t)\b"
_CASH = re.compile(r"\bcash\b|\bpay(?:ing)? (?:it )?(?:outright|in full)\b", re.IGNORECASE)
_NOT_CASH = re.compile(r"\b(?:not|no) (?:paying )?(?:in )?cash\b", re.IGNORECASE)
_ENDED = re.compile(
    r"\b(expired|lapsed|ran out|run out|no longer valid|out of date|timed out)\b", re.IGNORECASE
)
_VALIDITY = re.compile(
    r"\b(?:good|valid|expires?|expiring|good till|until|through|thru)\b(.*)$", re.IGNORECASE
)
_PRE_QUALIFIED = re.compile(r"\bpre[- ]?qual", re.IGNORECASE)
_APPROVED = re.compile(r"approv", re.IGNORECASE)
_NEGATED_APPROVAL = re.compile(_NEGATION + r"[^,;.]*approv|approv\w*\s+no\b", re.IGNORECASE)
_YES = re.compile(r"^\s*(yes|yep|yeah|yup|ya|sure|correct|we are|i am|already)\b", re.IGNORECASE)
_NO = re.compile(
    r"^\s*(no|nope|nah|not (?:yet|now|right now|at this (?:point|time))|haven'?t|have not|"
    r"still need|need (?:a|to find a) lender|working on it|in (?:the )?process|applying)\b"
    r"|\bneed a lender\b|\bstill need to apply\b|\bworking on it\b",
    re.IGNORECASE,
)


def _expiry(text: str, as_of: date) -> date | None:
    match = _VALIDITY.search(text)
    if not match:
        return None
    rest = match.group(1)
    return calendar_date(rest, as_of) or move_by(rest, as_of)


def read_financing(text: str, as_of: date) -> FinancingState:
    if not text.strip() or says_nothing(text):
        return FinancingState(Financing.UNKNOWN)
    if _CASH.search(text) and not _NOT_CASH.search(text):
        return FinancingState(Financing.CASH)
    if _ENDED.search(text):
        return FinancingState(Financing.NONE)
    if _PRE_QUALIFIED.search(text):
        return FinancingState(Financing.PRE_QUALIFIED)
    if _APPROVED.search(text):
        if any(_NEGATED_APPROVAL.search(part) for part in clauses(text)):
            return FinancingState(Financing.NONE)
        expires = _expiry(text, as_of)
        if expires is not None and expires < as_of:
            return FinancingState(Financing.NONE, expires)
        return FinancingState(Financing.PRE_APPROVED, expires)
    if _NO.search(text):
        return FinancingState(Financing.NONE)
    if _YES.search(text):
        return FinancingState(Financing.PRE_APPROVED)
    return FinancingState(Financing.UNKNOWN)
