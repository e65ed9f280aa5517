"""Reading Anthropic's rate-limit headers: real responses read right, hostile ones never crash
and leave the field unknown (so pacing falls back to what it does without headers)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from tollgate.orchestrator.ratelimit_headers import Allowance, RateLimitState, parse_rate_limits

NOW = datetime(2025, 8, 21, 12, 40, 0, tzinfo=UTC)
# As a real response sends them (values from a recorded Messages response).
REAL = {
    "anthropic-ratelimit-input-tokens-limit": "80000",
    "anthropic-ratelimit-input-tokens-remaining": "80000",
    "anthropic-ratelimit-input-tokens-reset": "2025-08-21T12:40:59Z",
    "anthropic-ratelimit-output-tokens-limit": "16000",
    "anthropic-ratelimit-output-tokens-remaining": "16000",
    "anthropic-ratelimit-output-tokens-reset": "2025-08-21T12:41:00Z",
    "anthropic-ratelimit-requests-limit": "1000",
    "anthropic-ratelimit-requests-remaining": "999",
    "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:59Z",
    "anthropic-ratelimit-tokens-limit": "96000",
    "anthropic-ratelimit-tokens-remaining": "96000",
    "anthropic-ratelimit-tokens-reset": "2025-08-21T12:40:59Z",
}


def with_requests(
    limit: str, remaining: str, reset: str = "2025-08-21T12:40:30Z"
) -> dict[str, str]:
    return {
        "anthropic-ratelimit-requests-limit": limit,
        "anthropic-ratelimit-requests-remaining": remaining,
        "anthropic-ratelimit-requests-reset": reset,
    }


def test_a_real_response_is_read_in_full() -> None:
    state = parse_rate_limits(REAL, NOW)
    assert state.requests == Allowance(limit=1000, remaining=999, reset_in=59.0)
    assert state.tokens == Allowance(limit=96000, remaining=96000, reset_in=59.0)
    assert state.input_tokens == Allowance(limit=80000, remaining=80000, reset_in=59.0)
    assert state.output_tokens == Allowance(limit=16000, remaining=16000, reset_in=60.0)
    assert state.retry_after is None


def test_a_429_adds_its_retry_after() -> None:
    state = parse_rate_limits({**with_requests("50", "0"), "retry-after": "7"}, NOW)
    assert state.requests == Allowance(50, 0, 30.0)
    assert state.retry_after == 7.0


def test_no_headers_is_an_empty_state() -> None:
    state = parse_rate_limits({}, NOW)
    assert state == RateLimitState()
    assert state.empty


def test_offsets_other_than_z_and_fractions_of_a_second_are_rfc_3339_too() -> None:
    state = parse_rate_limits(with_requests("10", "5", "2025-08-21T14:40:10.500+02:00"), NOW)
    assert state.requests is not None
    assert state.requests.reset_in == 10.5
    past = parse_rate_limits(with_requests("10", "5", "2025-08-21T12:00:00Z"), NOW)
    assert past.requests is not None
    assert past.requests.reset_in == 0.0


def test_remaining_above_the_limit_is_read_as_the_limit() -> None:
    state = parse_rate_limits(with_requests("10", "25"), NOW)
    assert state.requests == Allowance(10, 10, 30.0)


def test_an_unreadable_reset_keeps_the_counts_and_drops_the_time() -> None:
    for reset in ("tomorrow", "2025-08-21T12:40:30", "", "9" * 100, "2025-13-40T99:99:99Z"):
        state = parse_rate_limits(with_requests("10", "4", reset), NOW)
        assert state.requests == Allowance(10, 4, None), reset


def test_hostile_counts_drop_the_family() -> None:
    hostile = [
        "-1",
        "1e9",
        "ten",
        "",
        " ",
        "0x10",
        "1.5",
        "١٢",
        "99999999999999999999",
        "+5",
        "NaN",
    ]
    for bad in hostile:
        assert parse_rate_limits(with_requests(bad, "3"), NOW).requests is None, bad
        assert parse_rate_limits(with_requests("10", bad), NOW).requests is None, bad
    # A limit of zero would make a bucket that never refills: unknown, not "blocked forever".
    assert parse_rate_limits(with_requests("0", "0"), NOW).requests is None
    # One broken family leaves the others readable.
    mixed = {**REAL, "anthropic-ratelimit-tokens-limit": "lots"}
    state = parse_rate_limits(mixed, NOW)
    assert state.tokens is None
    assert state.requests is not None


def test_hostile_retry_after_is_ignored() -> None:
    for bad in ("-3", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "86400", ""):
        assert parse_rate_limits({"retry-after": bad}, NOW).retry_after is None, bad


class ExplodingHeaders(Mapping[str, str]):
    """A header mapping that fails on every lookup, as a broken proxy layer might."""

    def __getitem__(self, key: str) -> str:
        raise RuntimeError("broken")

    def __iter__(self) -> Iterator[str]:
        raise RuntimeError("broken")

    def __len__(self) -> int:
        return 1

    def get(self, key: str, default: object = None) -> str:  # type: ignore[override]
        raise RuntimeError("broken")


def test_a_mapping_that_raises_is_an_empty_state() -> None:
    assert parse_rate_limits(ExplodingHeaders(), NOW).empty


names = st.sampled_from([*sorted(REAL), "retry-after", "anthropic-ratelimit-", "x"])


@given(st.dictionaries(names, st.text(max_size=60), max_size=16))
def test_any_header_values_never_raise_and_never_break_the_invariants(
    headers: dict[str, str],
) -> None:
    state = parse_rate_limits(headers, NOW)
    for allowance in (state.requests, state.tokens, state.input_tokens, state.output_tokens):
        if allowance is not None:
            assert allowance.limit > 0
            assert 0 <= allowance.remaining <= allowance.limit
            assert allowance.reset_in is None or allowance.reset_in >= 0
    assert state.retry_after is None or 0 <= state.retry_after <= 3600


def test_the_pacing_read_takes_the_requests_limit_and_retry_after_only() -> None:
    from tollgate.orchestrator.ratelimit_headers import parse_pacing_limits

    headers = {**REAL, "retry-after": "7"}
    full = parse_rate_limits(headers, NOW)
    paced = parse_pacing_limits(headers, NOW)
    assert paced.requests == full.requests
    assert paced.retry_after == full.retry_after == 7.0
    assert paced.tokens is None
    assert paced.input_tokens is None
    assert parse_pacing_limits({"retry-after": "3"}, NOW) == RateLimitState(retry_after=3.0)
    assert parse_pacing_limits({}, NOW).empty
    assert parse_pacing_limits(with_requests("0", "0"), NOW).empty
    assert parse_pacing_limits(with_requests("10", "x"), NOW).empty
