"""The pieces of `tollgate rollout` that need no cluster: rollout states, names, edits."""

from __future__ import annotations

from typing import Any

import pytest
import yaml
from kubernetes import client as k8s

from tollgate.cli.rollout import (
    CanaryChange,
    FlagChange,
    FlagsFile,
    RolloutError,
    camel_case,
    flags_configmap_name,
    rollout_state,
    snake_case,
)


def make(spec: dict[str, Any], status: dict[str, Any], generation: int = 2) -> k8s.V1Deployment:
    return k8s.V1Deployment.from_dict(
        {
            "metadata": {"name": "tollgate-cache", "generation": generation},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {"spec": {"containers": [{"name": "cache", "image": "c:1"}]}},
                **spec,
            },
            "status": status,
        }
    )


@pytest.mark.parametrize(
    ("spec", "status", "generation", "expected"),
    [
        (
            {"replicas": 3},
            {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 3},
            2,
            ("complete", False),
        ),
        (
            {"replicas": 3},
            {"observedGeneration": 1},
            2,
            ("waiting for the controller to see the new spec", False),
        ),
        (
            {"replicas": 3},
            {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 1, "availableReplicas": 3},
            2,
            ("rolling out: 1 of 3 pods updated", False),
        ),
        (
            {"replicas": 3},
            {"observedGeneration": 2, "replicas": 4, "updatedReplicas": 3, "availableReplicas": 3},
            2,
            ("rolling out: 1 old pods terminating", False),
        ),
        (
            {"replicas": 3},
            {"observedGeneration": 2, "replicas": 3, "updatedReplicas": 3, "availableReplicas": 2},
            2,
            ("rolling out: 2 of 3 updated pods available", False),
        ),
        (
            {"replicas": 3},
            {
                "observedGeneration": 2,
                "updatedReplicas": 1,
                "conditions": [
                    {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
                ],
            },
            2,
            ("failed: progress deadline exceeded (kubectl rollout undo reverts it)", True),
        ),
        ({"replicas": 3, "paused": True}, {"observedGeneration": 2}, 2, ("paused", False)),
        ({"replicas": 0}, {"observedGeneration": 2}, 2, ("complete", False)),
    ],
)
def test_rollout_state_follows_kubectl_rules(
    spec: dict[str, Any], status: dict[str, Any], generation: int, expected: tuple[str, bool]
) -> None:
    assert rollout_state(make(spec, status, generation)) == expected


@pytest.mark.parametrize(
    ("given", "snake", "camel"),
    [
        ("semanticCache", "semantic_cache", "semanticCache"),
        ("semantic-cache", "semantic_cache", "semanticCache"),
        ("semantic_cache", "semantic_cache", "semanticCache"),
        ("orchestrator", "orchestrator", "orchestrator"),
        ("conversationOptimization", "conversation_optimization", "conversationOptimization"),
    ],
)
def test_names_map_between_the_file_and_helm_values(given: str, snake: str, camel: str) -> None:
    assert snake_case(given) == snake
    assert camel_case(given) == camel


def flags_file(**overrides: Any) -> FlagsFile:
    data: dict[str, Any] = {
        "version": 1,
        "flags": {"exact_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}},
        "canaries": {"orchestrator": {"canaryWeight": 10}},
    }
    data.update(overrides)
    return FlagsFile.parse(yaml.safe_dump(data), "test")


def test_flag_change_overrides_only_the_fields_given() -> None:
    overrides: dict[str, Any] = {}
    FlagChange("exact_cache", rollout_percent=30).apply(overrides, flags_file())
    assert overrides == {"flags": {"exact_cache": {"rolloutPercent": 30}}}
    FlagChange("exact_cache", enabled=False, mode="shadow").apply(overrides, flags_file())
    assert overrides == {
        "flags": {"exact_cache": {"rolloutPercent": 30, "enabled": False, "mode": "shadow"}}
    }
    change = FlagChange("exact_cache", enabled=False, mode="shadow")
    assert change.describe() == 'exact_cache enabled=false mode="shadow"'


def test_canary_change() -> None:
    overrides: dict[str, Any] = {}
    CanaryChange("orchestrator", 0).apply(overrides, flags_file())
    assert overrides == {"canaries": {"orchestrator": {"canaryWeight": 0}}}
    with pytest.raises(RolloutError, match="no canary of lead_scoring"):
        CanaryChange("lead_scoring", 5).apply(overrides, flags_file())


@pytest.mark.parametrize(
    ("flags", "message"),
    [
        ({"exact_cache": {"enabled": "yes"}}, "enabled must be true or false"),
        ({"exact_cache": {"rolloutPercent": 150}}, "rolloutPercent must be a whole number 0-100"),
        ({"exact_cache": {"rolloutPercent": 12.5}}, "rolloutPercent must be a whole number 0-100"),
        ({"exact_cache": {"mode": "loud"}}, "mode must be one of enforce, shadow"),
        ({"exact_cache": "on"}, "not a mapping"),
    ],
)
def test_flags_file_refuses_what_the_gateway_would_refuse(
    flags: dict[str, Any], message: str
) -> None:
    with pytest.raises(RolloutError, match=message):
        flags_file(flags=flags)


def test_flags_file_refuses_other_versions_and_shapes() -> None:
    with pytest.raises(RolloutError, match="version 2"):
        flags_file(version=2)
    with pytest.raises(RolloutError, match="not a Tollgate flags file"):
        FlagsFile.parse("- a\n- b\n", "test")


def test_flags_configmap_is_found_from_the_volume_or_the_environment() -> None:
    gateway = k8s.V1Deployment.from_dict(
        {
            "metadata": {"name": "tollgate-gateway"},
            "spec": {
                "selector": {"matchLabels": {"a": "b"}},
                "template": {
                    "spec": {
                        "containers": [
                            {
                                "name": "gateway",
                                "env": [
                                    {
                                        "name": "TOLLGATE_GATEWAY_FLAGS_CONFIGMAP",
                                        "value": "from-env",
                                    }
                                ],
                            }
                        ],
                        "volumes": [{"name": "flags", "configMap": {"name": "from-volume"}}],
                    }
                },
            },
        }
    )
    assert flags_configmap_name(gateway) == "from-volume"
    gateway.spec.template.spec.volumes = []
    assert flags_configmap_name(gateway) == "from-env"
    gateway.spec.template.spec.containers[0].env = []
    assert flags_configmap_name(gateway) is None
