"""Organisation-wide rate limits: Anthropic's header names and formats on every Messages
response, a continuously refilled bucket per API key and model, and 429s past it."""

from __future__ import annotations

import re
from datetime import UTC, datetime

import anthropic
import httpx2
import pytest

from tollgate.emulator import EmulatorConfig, EmulatorServer, ManualClock, RateLimitConfig

SONNET = "claude-sonnet-4-6"
HAIKU = "claude-haiku-4-5"
FAMILIES = ("requests", "tokens", "input-tokens", "output-tokens")
RFC3339_UTC = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}Z$")


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(
        rate_limits=RateLimitConfig(
            requests_per_minute=3, input_tokens_per_minute=90_000, output_tokens_per_minute=6_000
        )
    )


async def raw_create(
    client: anthropic.AsyncAnthropic, model: str = SONNET, max_tokens: int = 30
) -> httpx2.Response:
    """The HTTP response of one Messages call, 429s included (no exception)."""
    try:
        raw = await client.messages.with_raw_response.create(
            model=model, max_tokens=max_tokens, messages=[{"role": "user", "content": "Hello"}]
        )
    except anthropic.APIStatusError as error:
        return error.response
    return raw.http_response


def reset_in(response: httpx2.Response, family: str) -> float:
    value = response.headers[f"anthropic-ratelimit-{family}-reset"]
    assert RFC3339_UTC.match(value), value
    moment = datetime.fromisoformat(value.replace("Z", "+00:00"))
    return (moment - datetime.now(UTC)).total_seconds()


async def test_every_response_carries_each_family_in_anthropics_format(
    client: anthropic.AsyncAnthropic,
) -> None:
    response = await raw_create(client)
    assert response.status_code == 200
    for family in FAMILIES:
        limit = response.headers[f"anthropic-ratelimit-{family}-limit"]
        remaining = response.headers[f"anthropic-ratelimit-{family}-remaining"]
        assert limit.isdigit()
        assert remaining.isdigit()
        assert int(remaining) <= int(limit)
        reset_in(response, family)
    assert response.headers["anthropic-ratelimit-requests-limit"] == "3"
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "2"
    # One request of three spent, refilled at 3 per minute: full again in 20 s.
    assert 18 <= reset_in(response, "requests") <= 21
    # Token counts are rounded to the nearest thousand, as the real API does.
    assert int(response.headers["anthropic-ratelimit-input-tokens-remaining"]) % 1000 == 0


async def test_requests_past_the_limit_get_a_429_with_retry_after_and_the_headers(
    client: anthropic.AsyncAnthropic, server: EmulatorServer
) -> None:
    statuses = [(await raw_create(client)).status_code for _ in range(3)]
    assert statuses == [200, 200, 200]
    refused = await raw_create(client)
    assert refused.status_code == 429
    body = refused.json()
    assert body["type"] == "error"
    assert body["error"]["type"] == "rate_limit_error"
    assert "3 requests per minute" in body["error"]["message"]
    # The next request fits once one is refilled: 60 s / 3.
    assert refused.headers["retry-after"] == "20"
    assert refused.headers["anthropic-ratelimit-requests-remaining"] == "0"
    assert 59 <= reset_in(refused, "requests") <= 61
    # A refused request spends nothing.
    assert server.stats.faults_injected.get("rate_limit", 0) == 0


async def test_the_bucket_refills_continuously_not_per_minute(
    client: anthropic.AsyncAnthropic, clock: ManualClock
) -> None:
    for _ in range(3):
        await raw_create(client)
    assert (await raw_create(client)).status_code == 429
    clock.advance(19.5)
    assert (await raw_create(client)).status_code == 429
    clock.advance(0.6)
    allowed = await raw_create(client)
    assert allowed.status_code == 200
    assert allowed.headers["anthropic-ratelimit-requests-remaining"] == "0"
    clock.advance(3600)
    full = await raw_create(client)
    assert full.headers["anthropic-ratelimit-requests-remaining"] == "2"


async def test_limits_are_per_api_key_and_per_model(
    client: anthropic.AsyncAnthropic, server: EmulatorServer
) -> None:
    for _ in range(3):
        await raw_create(client)
    assert (await raw_create(client)).status_code == 429
    assert (await raw_create(client, model=HAIKU)).status_code == 200
    async with anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="another-organisation", max_retries=0
    ) as other:
        assert (await raw_create(other)).status_code == 200


async def test_output_tokens_are_charged_max_tokens_then_refunded_to_what_was_written(
    client: anthropic.AsyncAnthropic, server: EmulatorServer
) -> None:
    server.config.rate_limits.requests_per_minute = None
    # 5,000 charged up front; a short answer gives nearly all of it back.
    first = await raw_create(client, max_tokens=5_000)
    assert first.status_code == 200
    assert first.headers["anthropic-ratelimit-output-tokens-remaining"] == "6000"
    assert (await raw_create(client, max_tokens=5_900)).status_code == 200
    # A few tokens were written, so the whole 6,000 is no longer there: refused up front.
    refused = await raw_create(client, max_tokens=6_000)
    assert refused.status_code == 429
    assert "output tokens per minute" in refused.json()["error"]["message"]
    # The tightest token family is the one reported under `tokens`; requests are unlimited.
    tight = await raw_create(client, max_tokens=10)
    assert tight.headers["anthropic-ratelimit-tokens-limit"] == "6000"
    assert "anthropic-ratelimit-requests-limit" not in tight.headers


async def test_limits_set_over_the_control_api_apply_to_the_next_request(
    client: anthropic.AsyncAnthropic, server: EmulatorServer
) -> None:
    async with httpx2.AsyncClient(base_url=server.base_url) as http:
        patched = await http.post(
            "/_emulator/config", json={"rate_limits": {"requests_per_minute": 1}}
        )
        assert patched.status_code == 200
        bad = await http.post("/_emulator/config", json={"rate_limits": {"requests_per_minute": 0}})
        assert bad.status_code == 400
        unknown = await http.post("/_emulator/config", json={"rate_limits": {"rpm": 5}})
        assert unknown.status_code == 400
    assert (await raw_create(client)).headers["anthropic-ratelimit-requests-limit"] == "1"
    assert (await raw_create(client)).status_code == 429


async def test_a_request_that_fails_validation_still_reports_the_limits(
    server: EmulatorServer,
) -> None:
    async with httpx2.AsyncClient(base_url=server.base_url) as http:
        response = await http.post(
            "/v1/messages",
            headers={"x-api-key": "k", "anthropic-version": "2023-06-01"},
            json={"model": SONNET, "max_tokens": 0, "messages": []},
        )
    assert response.status_code == 400
    assert response.headers["anthropic-ratelimit-requests-remaining"] == "3"
