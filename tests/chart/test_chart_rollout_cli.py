"""`tollgate rollout` and the chart agree: the CLI finds both flag ConfigMaps of the rendered
gateway, and an override it writes, layered over what Helm renders, loads in the gateway and
survives a re-render of Helm's values (an upgrade or a rollback)."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tollgate.cli.rollout import (
    CanaryChange,
    FlagChange,
    FlagsFile,
    flags_configmap_name,
    overrides_configmap_name,
)
from tollgate.common.flag_layers import layered_text
from tollgate.gateway.flags_config import parse_gateway_config


def test_cli_finds_both_flag_configmaps_of_the_rendered_gateway(
    default_render: Any, facts: Any
) -> None:
    gateway = k8s.V1Deployment.from_dict(
        default_render.get("Deployment", facts.resource_name("gateway"))
    )
    assert flags_configmap_name(gateway) == f"{facts.fullname}-flags"
    assert overrides_configmap_name(gateway, "ignored") == f"{facts.fullname}-flag-overrides"


@pytest.mark.parametrize(
    "change",
    [
        FlagChange("semantic_cache", enabled=False),
        FlagChange("semantic_cache", enabled=True, rollout_percent=50, mode="enforce"),
        FlagChange("exact_cache", rollout_percent=0),
        CanaryChange("orchestrator", 0),
        CanaryChange("cache", 75),
    ],
    ids=lambda c: c.describe(),
)
def test_an_override_survives_any_helm_render(helm: Any, change: Any) -> None:
    overrides: dict[str, Any] = {}
    change.apply(overrides, FlagsFile.parse(helm.render("canary").flags_file(), "rendered"))
    text = yaml.safe_dump(overrides)
    # Whatever Helm renders next (a staged rollout step, a rollback to other values), the
    # override is what the gateway applies for the fields it names.
    for values in (
        {},
        {"flags.semanticCache.rolloutPercent": 100},
        {"flags.exactCache.enabled": False},
    ):
        rendered = helm.render("canary", values=values).flags_file()
        config = parse_gateway_config(layered_text(rendered, text))
        for key, fields in (overrides.get("flags") or {}).items():
            flag = config.flag(key)
            assert flag.enabled == fields.get("enabled", flag.enabled)
            assert flag.rollout_percent == fields.get("rolloutPercent", flag.rollout_percent)
        for backend, entry in (overrides.get("canaries") or {}).items():
            assert config.canary_weight(backend) == entry["canaryWeight"]
