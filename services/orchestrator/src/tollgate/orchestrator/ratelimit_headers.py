"""Anthropic's rate-limit headers, read defensively.

Every Messages response carries `anthropic-ratelimit-requests-{limit,remaining,reset}` (and the
same for tokens, input tokens and output tokens), `reset` as an RFC 3339 time; a 429 adds
`retry-after` (seconds). The fleet pacer paces on requests alone, refilling its bucket
continuously as Anthropic's does, so only the requests family's limit and remaining count and
`retry-after` are read; the token families and the reset times are left unread until something
paces on them.

These headers come from outside Tollgate (and from any proxy on the way), so nothing here may
raise: a header that is absent, not a number, negative, absurdly large or contradictory is
dropped, and the caller falls back to what it did without headers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass

PREFIX = "anthropic-ratelimit-"
# Far above any real limit; a larger number is a corrupt header, not a generous organisation.
_MAX_LIMIT = 10**12
# A retry hint longer than this is not a pacing hint we act on.
_MAX_RETRY_AFTER_SECONDS = 3600.0


@dataclass(frozen=True)
class Allowance:
    """One limit as the server last reported it."""

    limit: int
    remaining: int


@dataclass(frozen=True)
class RateLimitState:
    """What a response said that the pacer reads; None where it said nothing readable."""

    requests: Allowance | None = None
    retry_after: float | None = None


def parse_pacing_limits(headers: Mapping[str, str]) -> RateLimitState:
    """The requests allowance and `retry-after` a response reports (read on every Messages
    response while pacing is on)."""
    try:
        return RateLimitState(
            requests=_allowance(headers, "requests"),
            retry_after=_retry_after(headers.get("retry-after")),
        )
    except Exception:
        # A mapping that misbehaves on lookup (or a header value of the wrong type) is as good
        # as no header at all.
        return RateLimitState()


def _allowance(headers: Mapping[str, str], family: str) -> Allowance | None:
    limit = _count(headers.get(f"{PREFIX}{family}-limit"))
    if not limit:
        # Absent (a bare response: an error from a proxy) or zero; one lookup, not two.
        return None
    remaining = _count(headers.get(f"{PREFIX}{family}-remaining"))
    if remaining is None:
        return None
    # More left than the limit is a contradiction; the limit is the safer reading.
    return Allowance(limit=limit, remaining=min(remaining, limit))


def _count(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 13:
        return None
    number = int(text)
    return number if number <= _MAX_LIMIT else None


def _retry_after(value: object) -> float | None:
    if not isinstance(value, str):
        return None
    try:
        seconds = float(value.strip())
    except ValueError:
        return None
    if not math.isfinite(seconds) or seconds < 0 or seconds > _MAX_RETRY_AFTER_SECONDS:
        return None
    return seconds
