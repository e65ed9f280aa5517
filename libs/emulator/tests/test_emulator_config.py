from __future__ import annotations

import random

import pytest

from tollgate.emulator import EmulatorConfig, FaultKind, ScriptedFault
from tollgate.emulator.tool_inputs import object_for


def test_patch_merges_nested_and_replaces_lists() -> None:
    config = EmulatorConfig(fault_script=[ScriptedFault(FaultKind.API_ERROR)])
    config.apply_patch(
        {
            "latency": {"tokens_per_second": 80},
            "faults": {"overloaded": 0.25},
            "fault_script": [{"kind": "rate_limit", "model": "claude-haiku-4-5"}],
            "min_cacheable_tokens": {"haiku": 4096},
        }
    )
    assert config.latency.tokens_per_second == 80
    assert config.latency.ttft_ms == 0
    assert config.faults.overloaded == 0.25
    assert config.fault_script == [ScriptedFault(FaultKind.RATE_LIMIT, model="claude-haiku-4-5")]
    assert config.min_cacheable_for("claude-haiku-4-5") == 4096
    assert config.min_cacheable_for("claude-sonnet-4-6") == 1024
    assert config.min_cacheable_for("claude-opus-4-6") == 1024


@pytest.mark.parametrize(
    "patch",
    [
        {"latency": {"ttft": 5}},
        {"faults": {"overloaded": 0.7, "api_error": 0.5}},
        {"faults": {"rate_limit": -0.1}},
        {"fault_script": [{"kind": "meteor"}]},
        {"max_concurrency": 0},
        {"seed": "x"},
        {"unknown": 1},
    ],
)
def test_invalid_patch_changes_nothing(patch: dict[str, object]) -> None:
    config = EmulatorConfig(seed=5)
    before = config.to_dict()
    with pytest.raises(ValueError, match=r"\w"):
        config.apply_patch(patch)
    assert config.to_dict() == before


def test_config_round_trips_through_dict() -> None:
    config = EmulatorConfig(max_concurrency=3, fault_script=[ScriptedFault(FaultKind.NONE)])
    assert EmulatorConfig.from_dict(config.to_dict()) == config


def test_tool_arguments_follow_schema() -> None:
    schema = {
        "type": "object",
        "properties": {
            "contact": {
                "type": "object",
                "properties": {"email": {"type": "string"}, "phone": {"type": "string"}},
                "required": ["email", "phone"],
            },
            "rooms": {"type": "integer", "minimum": 2, "maximum": 5},
            "price": {"type": "number"},
            "urgent": {"type": "boolean"},
            "area": {"anyOf": [{"type": "string"}, {"type": "null"}]},
            "optional": {"type": "string"},
        },
        "required": ["contact", "rooms", "price", "urgent", "area"],
    }
    value = object_for(schema, random.Random(1), ["Lakeview"])
    assert set(value) == {"contact", "rooms", "price", "urgent", "area"}
    assert value["contact"]["email"].endswith("@example.com")
    assert value["contact"]["phone"].startswith("+1-555-")
    assert 2 <= value["rooms"] <= 5
    assert isinstance(value["price"], float)
    assert value["urgent"] is True
    assert isinstance(value["area"], str)
    assert object_for(schema, random.Random(1), ["Lakeview"]) == value
