"""The flags source's memo of decisions: the same answer as deciding afresh, per tenant and
contact, and a config that takes effect decides again."""

from __future__ import annotations

import yaml

from tollgate.gateway.flags import Decisions, FlagsSource

CALLERS = [(f"tenant-{i % 7}", f"contact-{i}") for i in range(300)]


def _rollout(percent: int, mode: str = "enforce") -> str:
    flag = {"enabled": True, "rolloutPercent": percent, "mode": mode}
    return yaml.safe_dump({"version": 1, "flags": {"exact_cache": flag, "semantic_cache": flag}})


def _source(text: str, callers_kept: int = 4096) -> FlagsSource:
    source = FlagsSource("", callers_kept=callers_kept)
    assert source.apply_text(text, "file")
    return source


def test_memoised_decisions_equal_fresh_ones_for_every_caller() -> None:
    source = _source(_rollout(40))
    for _ in range(2):  # the second round is served from the memo
        for tenant, contact in CALLERS:
            assert source.decisions(tenant, contact) == Decisions.evaluate(
                source.config, tenant, contact
            )


def test_a_repeat_caller_gets_the_same_decisions_object() -> None:
    source = _source(_rollout(40))
    first = source.decisions("acme", "c-1")
    assert source.decisions("acme", "c-1") is first
    assert source.decisions("globex", "c-1") is not first


def test_a_config_that_takes_effect_is_decided_afresh() -> None:
    source = _source(_rollout(0))
    assert not source.decisions("acme", "c-1").exact_cache.active
    assert source.apply_text(_rollout(100, mode="shadow"), "file")
    decided = source.decisions("acme", "c-1")
    assert decided.exact_cache.active
    assert decided.exact_cache.shadow
    # An override layer is a new config too; and back: never an older config's answer.
    assert source.apply_text(_rollout(0), "overrides-file")
    assert not source.decisions("acme", "c-1").exact_cache.active


def test_a_refused_text_keeps_the_config_and_its_decisions() -> None:
    source = _source(_rollout(100))
    decided = source.decisions("acme", "c-1")
    assert not source.apply_text("version: 1\nflags: {exact_cache: {rolloutPercent: 900}}", "file")
    assert source.decisions("acme", "c-1") is decided


def test_the_memo_stays_within_its_limit_and_still_answers_right() -> None:
    source = _source(_rollout(50), callers_kept=16)
    for tenant, contact in CALLERS:
        assert source.decisions(tenant, contact) == Decisions.evaluate(
            source.config, tenant, contact
        )
    assert len(source._decided) <= 16
