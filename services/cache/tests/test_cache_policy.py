"""Cacheability rules, TTL resolution, settings from the environment, the circuit breaker."""

from __future__ import annotations

from collections.abc import Callable

import pytest
from pydantic import ValidationError

from tollgate.cache.keys import TenantKeys
from tollgate.cache.policy import CachePolicy
from tollgate.cache.settings import Settings
from tollgate.common.breaker import CircuitBreaker
from tollgate.v1 import common_pb2


def _policy(**settings: object) -> CachePolicy:
    return CachePolicy(Settings(**settings))  # type: ignore[arg-type]


def test_only_temperature_zero_is_cacheable_by_default(
    make_request: Callable[..., common_pb2.ClaudeRequest],
) -> None:
    policy = _policy()
    assert policy.request_verdict(make_request(temperature=0.0), "acme", "chat").cacheable
    hot = policy.request_verdict(make_request(temperature=0.7), "acme", "chat")
    assert not hot.cacheable
    assert "temperature 0.7" in hot.reason
    unset = make_request()
    unset.ClearField("temperature")
    verdict = policy.request_verdict(unset, "acme", "chat")
    assert not verdict.cacheable
    assert "unset" in verdict.reason


def test_unset_and_low_temperatures_when_configured(
    make_request: Callable[..., common_pb2.ClaudeRequest],
) -> None:
    policy = _policy(unset_temperature_cacheable=True, max_cacheable_temperature=0.3)
    unset = make_request()
    unset.ClearField("temperature")
    assert policy.request_verdict(unset, "acme", "chat").cacheable
    assert policy.request_verdict(make_request(temperature=0.3), "acme", "chat").cacheable
    assert not policy.request_verdict(make_request(temperature=0.31), "acme", "chat").cacheable


def test_tool_use_turns_only_when_configured(
    make_request: Callable[..., common_pb2.ClaudeRequest],
) -> None:
    with_tools = make_request(tools=[common_pb2.Tool(name="crm_lookup")])
    with_result = make_request(
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[
                    common_pb2.ContentBlock(
                        tool_result=common_pb2.ToolResultBlock(tool_use_id="toolu_1")
                    )
                ],
            )
        ]
    )
    default = _policy()
    for request in (with_tools, with_result):
        verdict = default.request_verdict(request, "acme", "chat")
        assert not verdict.cacheable
        assert "tool-use" in verdict.reason
    configured = _policy(tool_use_cacheable=True)
    assert configured.request_verdict(with_tools, "acme", "chat").cacheable
    assert configured.request_verdict(with_result, "acme", "chat").cacheable


def test_answer_rules(make_response: Callable[..., common_pb2.ClaudeResponse]) -> None:
    default = _policy()
    assert default.response_verdict(make_response()).cacheable
    assert default.response_verdict(
        make_response(stop_reason=common_pb2.STOP_REASON_STOP_SEQUENCE)
    ).cacheable
    cut = default.response_verdict(make_response(stop_reason=common_pb2.STOP_REASON_MAX_TOKENS))
    assert not cut.cacheable
    assert "max_tokens" in cut.reason
    for reason in (
        common_pb2.STOP_REASON_UNSPECIFIED,
        common_pb2.STOP_REASON_PAUSE_TURN,
        common_pb2.STOP_REASON_REFUSAL,
    ):
        assert not default.response_verdict(make_response(stop_reason=reason)).cacheable
    tool_use = make_response(
        stop_reason=common_pb2.STOP_REASON_TOOL_USE,
        content=[
            common_pb2.ContentBlock(tool_use=common_pb2.ToolUseBlock(id="toolu_1", name="crm"))
        ],
    )
    assert not default.response_verdict(tool_use).cacheable
    assert not default.response_verdict(make_response(content=[])).cacheable

    configured = _policy(max_tokens_responses_cacheable=True, tool_use_cacheable=True)
    assert configured.response_verdict(
        make_response(stop_reason=common_pb2.STOP_REASON_MAX_TOKENS)
    ).cacheable
    assert configured.response_verdict(tool_use).cacheable


def test_ttl_resolution_most_specific_rule_wins() -> None:
    policy = _policy(
        default_ttl_seconds=100,
        ttl_overrides={
            "acme": {"lead_analysis": 10, "*": 20},
            "*": {"report": 30, "script": 0},
        },
    )
    assert policy.ttl_seconds("acme", "lead_analysis") == 10
    assert policy.ttl_seconds("acme", "report") == 20
    assert policy.ttl_seconds("globex", "report") == 30
    assert policy.ttl_seconds("globex", "chat") == 100
    assert policy.ttl_seconds("globex", "script") == 0


def test_a_zero_ttl_turns_caching_off(
    make_request: Callable[..., common_pb2.ClaudeRequest],
) -> None:
    policy = _policy(ttl_overrides={"acme": {"report": 0}})
    verdict = policy.request_verdict(make_request(), "acme", "report")
    assert not verdict.cacheable
    assert "turned off" in verdict.reason
    assert policy.request_verdict(make_request(), "acme", "chat").cacheable


def test_settings_come_from_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("TOLLGATE_CACHE_REDIS_URL", "redis://cache-redis:6379/2")
    monkeypatch.setenv("TOLLGATE_CACHE_TTL_OVERRIDES", '{"acme": {"lead_analysis": 600}}')
    monkeypatch.setenv("TOLLGATE_CACHE_MAX_ENTRY_BYTES", "1024")
    monkeypatch.setenv("TOLLGATE_CACHE_TOOL_USE_CACHEABLE", "true")
    settings = Settings()
    assert settings.redis_url == "redis://cache-redis:6379/2"
    assert settings.ttl_overrides == {"acme": {"lead_analysis": 600}}
    assert settings.max_entry_bytes == 1024
    assert settings.tool_use_cacheable is True
    assert settings.port == 50053


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        ({"ttl_overrides": {"acme": {"leads": 10}}}, "unknown task 'leads'"),
        ({"ttl_overrides": {"acme": {"chat": -1}}}, ">= 0"),
        ({"key_prefix": "tg{x}"}, "hash tag"),
        ({"fill_poll_initial_seconds": 0.5, "fill_poll_max_seconds": 0.1}, "fill_poll_max"),
    ],
)
def test_bad_settings_are_refused_with_a_reason(overrides: dict[str, object], message: str) -> None:
    with pytest.raises(ValidationError, match=message):
        Settings(**overrides)  # type: ignore[arg-type]


def test_tenant_keys_share_one_hash_tag_and_cannot_be_spoofed() -> None:
    keys = TenantKeys("tg", "acme")
    for name in (keys.entry("ab"), keys.lease("ab"), keys.index, keys.tag("lead:42"), keys.stats):
        assert name.startswith("tg:{acme}:")
    # Braces and colons in a tenant id are encoded: they cannot end the hash tag early or make
    # one tenant's keys look like another's.
    tricky = TenantKeys("tg", "acme}:x:")
    assert tricky.base == "tg:{acme%7D%3Ax%3A}"
    assert not tricky.entry("ab").startswith(keys.base + ":")


def test_breaker_opens_after_failures_and_lets_one_probe_through() -> None:
    now = [0.0]
    breaker = CircuitBreaker(failure_threshold=3, open_seconds=1.0, clock=lambda: now[0])
    for _ in range(2):
        breaker.record_failure()
    assert breaker.allow()
    breaker.record_failure()
    assert not breaker.allow()
    now[0] = 1.5
    assert breaker.allow()  # the probe
    assert not breaker.allow()  # everyone else waits for it
    breaker.record_failure()
    now[0] = 2.0
    assert not breaker.allow()
    now[0] = 2.6
    assert breaker.allow()
    breaker.record_success()
    assert breaker.allow()
    assert breaker.allow()
