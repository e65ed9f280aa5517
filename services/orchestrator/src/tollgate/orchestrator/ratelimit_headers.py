"""Anthropic's rate-limit headers, read defensively.

Every Messages response carries `anthropic-ratelimit-requests-{limit,remaining,reset}` (and the
same for tokens, input tokens and output tokens), `reset` as an RFC 3339 time; a 429 adds
`retry-after` (seconds). These headers come from outside Tollgate (and from any proxy on the
way), so nothing here may raise: a header that is absent, not a number, negative, absurdly large
or contradictory is dropped, and the caller falls back to what it did without headers.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import UTC, datetime

PREFIX = "anthropic-ratelimit-"
# Far above any real limit; a larger number is a corrupt header, not a generous organisation.
_MAX_LIMIT = 10**12
# A retry hint longer than this is not a pacing hint we act on.
_MAX_RETRY_AFTER_SECONDS = 3600.0
# RFC 3339 strings are short; anything longer is not worth parsing.
_MAX_TIME_LENGTH = 40


@dataclass(frozen=True)
class Allowance:
    """One limit as the server last reported it."""

    limit: int
    remaining: int
    # Seconds from the response until the bucket is full again; None when absent or unreadable.
    reset_in: float | None


@dataclass(frozen=True)
class RateLimitState:
    requests: Allowance | None = None
    tokens: Allowance | None = None
    input_tokens: Allowance | None = None
    output_tokens: Allowance | None = None
    retry_after: float | None = None

    @property
    def empty(self) -> bool:
        return self == _EMPTY


_EMPTY = RateLimitState()


def parse_rate_limits(headers: Mapping[str, str], now: datetime | None = None) -> RateLimitState:
    """The rate-limit state a response reports; fields it does not report (readably) are None."""
    try:
        moment = now or datetime.now(UTC)
        return RateLimitState(
            requests=_allowance(headers, "requests", moment),
            tokens=_allowance(headers, "tokens", moment),
            input_tokens=_allowance(headers, "input-tokens", moment),
            output_tokens=_allowance(headers, "output-tokens", moment),
            retry_after=_retry_after(headers.get("retry-after")),
        )
    except Exception:
        # A mapping that misbehaves on lookup (or a header value of the wrong type) is as good
        # as no header at all.
        return _EMPTY


def parse_pacing_limits(headers: Mapping[str, str], now: datetime | None = None) -> RateLimitState:
    """Only what the fleet pacer reads: the requests allowance and `retry-after`.

    Runs on every Messages response when pacing is on, so the token families, which nothing
    paces on, are left unread (None).
    """
    try:
        requests = _allowance(headers, "requests", now or datetime.now(UTC))
        retry_after = _retry_after(headers.get("retry-after"))
    except Exception:
        return _EMPTY
    if requests is None and retry_after is None:
        return _EMPTY
    return RateLimitState(requests=requests, retry_after=retry_after)


def _allowance(headers: Mapping[str, str], family: str, now: datetime) -> Allowance | None:
    limit = _count(headers.get(f"{PREFIX}{family}-limit"))
    if not limit:
        # Absent (a bare response: an error from a proxy) or zero; one lookup, not three.
        return None
    remaining = _count(headers.get(f"{PREFIX}{family}-remaining"))
    if remaining is None:
        return None
    return Allowance(
        limit=limit,
        # More left than the limit is a contradiction; the limit is the safer reading.
        remaining=min(remaining, limit),
        reset_in=_seconds_until(headers.get(f"{PREFIX}{family}-reset"), now),
    )


def _count(value: object) -> int | None:
    if not isinstance(value, str):
        return None
    text = value.strip()
    if not text.isascii() or not text.isdigit() or len(text) > 13:
        return None
    number = int(text)
    return number if number <= _MAX_LIMIT else None


def _seconds_until(value: object, now: datetime) -> float | None:
    if not isinstance(value, str) or len(value) > _MAX_TIME_LENGTH:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        moment = datetime.fromisoformat(text)
    except ValueError:
        return None
    if moment.tzinfo is None:
        # RFC 3339 requires an offset; a bare local time would be guessed, so it is refused.
        return None
    seconds = (moment - now).total_seconds()
    return max(0.0, seconds) if math.isfinite(seconds) else None


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
