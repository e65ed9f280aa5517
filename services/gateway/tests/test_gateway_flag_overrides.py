"""Runtime overrides (kill switch, `tollgate rollout set-flag`) are a layer of their own, over
Helm's flags: a Helm upgrade or rollback changes what lies under an override, never the override,
and clearing the overrides gives Helm's flags back exactly."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.common.flag_layers import layered_text
from tollgate.gateway.flags import FlagsSource

HELM = (
    "version: 1\n"
    "flags:\n"
    "  semantic_cache: {enabled: true, rolloutPercent: 100, mode: enforce}\n"
    "  exact_cache: {enabled: true, rolloutPercent: 100}\n"
    "canaries:\n"
    "  orchestrator: {canaryWeight: 10}\n"
)
HELM_UPGRADED = HELM.replace("rolloutPercent: 100, mode", "rolloutPercent: 50, mode")
KILL_SWITCH = "flags:\n  semantic_cache: {enabled: false}\n"
CANARY_OFF = "canaries:\n  orchestrator: {canaryWeight: 0}\n"


def test_an_override_wins_field_by_field_and_a_helm_change_lands_under_it() -> None:
    source = FlagsSource("")
    assert source.apply_text(HELM, "configmap")
    assert source.apply_text(KILL_SWITCH, "overrides-configmap")
    semantic = source.config.flag("semantic_cache")
    assert not semantic.enabled
    assert semantic.rollout_percent == 100  # the fields the override does not name stay Helm's
    assert source.config.flag("exact_cache").enabled
    # `helm upgrade` (or `helm rollback`) rewrites the base: the kill switch holds.
    assert source.apply_text(HELM_UPGRADED, "configmap")
    assert not source.config.flag("semantic_cache").enabled
    assert source.config.flag("semantic_cache").rollout_percent == 50
    # Clearing the overrides hands control back to Helm, with Helm's latest values.
    assert source.apply_text("", "overrides-configmap")
    assert source.config.flag("semantic_cache").enabled
    assert source.config.flag("semantic_cache").rollout_percent == 50


def test_canary_weights_can_be_overridden_too() -> None:
    source = FlagsSource("")
    source.apply_text(HELM, "configmap")
    assert source.config.canary_weight("orchestrator") == 10
    source.apply_text(CANARY_OFF, "overrides-configmap")
    assert source.config.canary_weight("orchestrator") == 0


def test_no_overrides_leaves_helms_document_and_version_untouched() -> None:
    assert layered_text(HELM, "") == HELM
    with_helm = FlagsSource("")
    with_helm.apply_text(HELM, "configmap")
    with_both = FlagsSource("")
    with_both.apply_text(HELM, "configmap")
    with_both.apply_text("", "overrides-configmap")
    assert with_both.config.source_digest == with_helm.config.source_digest


def test_an_invalid_override_is_refused_and_the_last_good_config_stays(
    caplog: pytest.LogCaptureFixture,
) -> None:
    source = FlagsSource("")
    source.apply_text(HELM, "configmap")
    source.apply_text(KILL_SWITCH, "overrides-configmap")
    assert not source.apply_text(
        "flags:\n  semantic_cache: {rolloutPercent: 150}\n", "overrides-configmap"
    )
    assert "refused new flags from overrides-configmap" in caplog.text
    assert not source.config.flag("semantic_cache").enabled
    # A later good base still layers under the override that is in force.
    source.apply_text(HELM_UPGRADED, "configmap")
    assert not source.config.flag("semantic_cache").enabled


async def test_the_overrides_file_may_appear_and_disappear(tmp_path: Path) -> None:
    flags, overrides = tmp_path / "flags.yaml", tmp_path / "overrides.yaml"
    flags.write_text(HELM)
    source = FlagsSource(str(flags), poll_seconds=30, overrides_path=str(overrides))
    await source.start()
    try:
        assert source.config.flag("semantic_cache").enabled  # no overrides ConfigMap yet
        overrides.write_text(KILL_SWITCH)
        assert source.load()
        assert not source.config.flag("semantic_cache").enabled
        overrides.unlink()
        assert source.load()
        assert source.config.flag("semantic_cache").enabled
    finally:
        await source.stop()


async def test_a_deleted_overrides_configmap_clears_the_overrides() -> None:
    import asyncio
    from types import SimpleNamespace

    from tollgate.gateway.configmap_watch import ConfigMapWatch

    source = FlagsSource("")
    source.apply_text(HELM, "configmap")
    watch = ConfigMapWatch(
        "tollgate", "tg-flag-overrides", "overrides.yaml", source.apply_text, "overrides-configmap"
    )
    loop = asyncio.get_running_loop()
    configmap = SimpleNamespace(data={"overrides.yaml": KILL_SWITCH})
    watch._deliver(loop, {"type": "ADDED", "object": configmap})
    await asyncio.sleep(0)
    assert not source.config.flag("semantic_cache").enabled
    watch._deliver(loop, {"type": "DELETED", "object": configmap})
    await asyncio.sleep(0)
    assert source.config.flag("semantic_cache").enabled
