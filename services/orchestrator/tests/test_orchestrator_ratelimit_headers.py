"""Reading Anthropic's rate-limit headers for the pacer: real responses read right, hostile ones
never crash and leave the field unknown (so pacing falls back to what it does without headers)."""

from __future__ import annotations

from collections.abc import Iterator, Mapping

from hypothesis import given
from hypothesis import strategies as st

from tollgate.orchestrator.ratelimit_headers import Allowance, RateLimitState, parse_pacing_limits

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


def with_requests(limit: str, remaining: str) -> dict[str, str]:
    return {
        "anthropic-ratelimit-requests-limit": limit,
        "anthropic-ratelimit-requests-remaining": remaining,
        "anthropic-ratelimit-requests-reset": "2025-08-21T12:40:30Z",
    }


def test_a_real_response_gives_its_requests_allowance() -> None:
    assert parse_pacing_limits(REAL) == RateLimitState(
        requests=Allowance(limit=1000, remaining=999)
    )


def test_a_429_adds_its_retry_after() -> None:
    state = parse_pacing_limits({**with_requests("50", "0"), "retry-after": "7"})
    assert state == RateLimitState(requests=Allowance(50, 0), retry_after=7.0)
    assert parse_pacing_limits({"retry-after": "3"}) == RateLimitState(retry_after=3.0)


def test_no_headers_is_an_empty_state() -> None:
    assert parse_pacing_limits({}) == RateLimitState()


def test_remaining_above_the_limit_is_read_as_the_limit() -> None:
    assert parse_pacing_limits(with_requests("10", "25")).requests == Allowance(10, 10)


def test_hostile_counts_drop_the_allowance() -> None:
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
        assert parse_pacing_limits(with_requests(bad, "3")).requests is None, bad
        assert parse_pacing_limits(with_requests("10", bad)).requests is None, bad
    # A limit of zero would make a bucket that never refills: unknown, not "blocked forever".
    assert parse_pacing_limits(with_requests("0", "0")) == RateLimitState()
    # A broken token family (which the pacer does not read) changes nothing.
    mixed = {**REAL, "anthropic-ratelimit-tokens-limit": "lots"}
    assert parse_pacing_limits(mixed) == parse_pacing_limits(REAL)


def test_hostile_retry_after_is_ignored() -> None:
    for bad in ("-3", "nan", "inf", "soon", "Wed, 21 Oct 2015 07:28:00 GMT", "86400", ""):
        assert parse_pacing_limits({"retry-after": bad}).retry_after is None, bad


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
    assert parse_pacing_limits(ExplodingHeaders()) == RateLimitState()


names = st.sampled_from([*sorted(REAL), "retry-after", "anthropic-ratelimit-", "x"])


@given(st.dictionaries(names, st.text(max_size=60), max_size=16))
def test_any_header_values_never_raise_and_never_break_the_invariants(
    headers: dict[str, str],
) -> None:
    state = parse_pacing_limits(headers)
    if state.requests is not None:
        assert state.requests.limit > 0
        assert 0 <= state.requests.remaining <= state.requests.limit
    assert state.retry_after is None or 0 <= state.retry_after <= 3600
