"""`tollgate rollout` and the chart agree: the CLI finds the flags ConfigMap in the rendered
gateway, its edits still load in the gateway, and the `helm --set` it prints to reconcile makes
Helm render exactly what the CLI wrote."""

from __future__ import annotations

from typing import Any

import pytest
from kubernetes import client as k8s

from tollgate.cli.rollout import CanaryChange, FlagChange, FlagsFile, flags_configmap_name
from tollgate.gateway.flags_config import parse_gateway_config


def test_cli_finds_the_flags_configmap_of_the_rendered_gateway(
    default_render: Any, facts: Any
) -> None:
    gateway = k8s.V1Deployment.from_dict(
        default_render.get("Deployment", facts.resource_name("gateway"))
    )
    assert flags_configmap_name(gateway) == f"{facts.fullname}-flags"


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
def test_printed_helm_values_reproduce_the_cli_edit(helm: Any, change: Any) -> None:
    rendered = helm.render("canary")
    document = FlagsFile.parse(rendered.flags_file(), "rendered")
    change.apply(document)
    edited = parse_gateway_config(document.render())  # the gateway loads the CLI's output
    values = {}
    for assignment in change.helm_values():
        key, _, raw = assignment.partition("=")
        values[key] = {"true": True, "false": False}.get(raw, int(raw) if raw.isdigit() else raw)
    reconciled = parse_gateway_config(helm.render("canary", values=values).flags_file())
    assert reconciled.flags == edited.flags
    assert reconciled.canaries == edited.canaries
