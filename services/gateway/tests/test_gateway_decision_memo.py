"""The pipeline's memo of flag decisions: the same answer as deciding afresh, per tenant and
contact, and a reloaded config decides again."""

from __future__ import annotations

import yaml

from tollgate.gateway.flags import DecisionMemo, Decisions
from tollgate.gateway.flags_config import parse_gateway_config

CALLERS = [(f"tenant-{i % 7}", f"contact-{i}") for i in range(300)]


def _rollout(percent: int, mode: str = "enforce") -> str:
    flag = {"enabled": True, "rolloutPercent": percent, "mode": mode}
    return yaml.safe_dump({"version": 1, "flags": {"exact_cache": flag, "semantic_cache": flag}})


def test_memoised_decisions_equal_fresh_ones_for_every_caller() -> None:
    config = parse_gateway_config(_rollout(40))
    memo = DecisionMemo()
    for _ in range(2):  # the second round is served from the memo
        for tenant, contact in CALLERS:
            assert memo.evaluate(config, tenant, contact) == Decisions.evaluate(
                config, tenant, contact
            )


def test_a_repeat_caller_gets_the_same_decisions_object() -> None:
    config = parse_gateway_config(_rollout(40))
    memo = DecisionMemo()
    first = memo.evaluate(config, "acme", "c-1")
    assert memo.evaluate(config, "acme", "c-1") is first
    assert memo.evaluate(config, "globex", "c-1") is not first


def test_a_new_config_is_decided_afresh() -> None:
    memo = DecisionMemo()
    off = parse_gateway_config(_rollout(0))
    assert not memo.evaluate(off, "acme", "c-1").exact_cache.active
    on = parse_gateway_config(_rollout(100, mode="shadow"))
    decided = memo.evaluate(on, "acme", "c-1")
    assert decided.exact_cache.active
    assert decided.exact_cache.shadow
    # And back: the memo follows whichever config is passed, never an older one's answer.
    assert not memo.evaluate(off, "acme", "c-1").exact_cache.active


def test_the_memo_stays_within_its_limit_and_still_answers_right() -> None:
    config = parse_gateway_config(_rollout(50))
    memo = DecisionMemo(limit=16)
    for tenant, contact in CALLERS:
        assert memo.evaluate(config, tenant, contact) == Decisions.evaluate(config, tenant, contact)
    assert len(memo) <= 16
