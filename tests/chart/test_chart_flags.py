"""The flags ConfigMap the chart renders is read by the gateway's own loader
(tollgate.gateway.flags_config.parse_gateway_config) and says what the values say."""

from __future__ import annotations

import re
from typing import Any

import pytest

from tollgate.gateway.flags_config import FLAG_KEYS, FlagMode, parse_gateway_config


def snake(camel: str) -> str:
    return re.sub(r"(?<!^)(?=[A-Z])", "_", camel).lower()


def test_flags_configmap_parses_with_the_gateway_loader(rendered: Any) -> None:
    config = parse_gateway_config(rendered.flags_file())
    assert config.version == 1
    assert sorted(config.flags) == sorted(FLAG_KEYS)


def test_default_flags_match_the_values(default_render: Any, chart_values: dict[str, Any]) -> None:
    config = parse_gateway_config(default_render.flags_file())
    assert chart_values["flags"], "values.yaml has no flags"
    for key, flag in chart_values["flags"].items():
        parsed = config.flags[snake(key)]
        assert parsed.enabled is flag["enabled"], key
        assert parsed.rollout_percent == flag["rolloutPercent"], key
        assert parsed.mode == FlagMode(flag["mode"]), key
        assert parsed.parameters == flag.get("parameters", {}), key
    # Spot checks of the mapping itself, so a broken helper cannot pass by symmetry.
    assert config.flags["semantic_cache"].mode is FlagMode.SHADOW
    assert config.flags["semantic_cache"].enabled is False
    assert config.flags["conversation_optimization"].parameters == {
        "targetTokens": 6000,
        "strategies": [],
    }
    assert config.flags["budget_enforcement"].parameters == {
        "failMode": "closed",
        "failOpenTenants": [],
        "failClosedTenants": [],
    }
    assert config.canaries == {}


def test_all_flags_off_value_set_switches_every_optimization_off(helm: Any) -> None:
    config = parse_gateway_config(helm.render("flags-off").flags_file())
    states = {key: (flag.enabled, flag.rollout_percent) for key, flag in config.flags.items()}
    assert states == dict.fromkeys(FLAG_KEYS, (False, 0))


@pytest.mark.parametrize("percent", [10, 50, 100])
def test_staged_rollout_with_helm_set(helm: Any, percent: int) -> None:
    """`helm upgrade --set flags.semanticCache.rolloutPercent=N` reaches the gateway's file."""
    rendered = helm.render(
        "default",
        values={
            "flags.semanticCache.enabled": True,
            "flags.semanticCache.mode": "enforce",
            "flags.semanticCache.rolloutPercent": percent,
        },
    )
    flag = parse_gateway_config(rendered.flags_file()).flags["semantic_cache"]
    assert (flag.enabled, flag.mode, flag.rollout_percent) == (True, FlagMode.ENFORCE, percent)
    # Parameters are kept when only the percentage changes.
    assert flag.parameters == {"minSimilarity": 0.75}


def test_large_and_fractional_parameters_survive_rendering(helm: Any) -> None:
    """Helm keeps numbers as floats; the file must still carry 250000, not 2.5e+05."""
    rendered = helm.render(
        "default",
        values={
            "flags.conversationOptimization.parameters.targetTokens": 250000,
            "flags.semanticCache.parameters.minSimilarity": 0.935,
        },
    )
    assert "targetTokens: 250000" in rendered.flags_file()
    config = parse_gateway_config(rendered.flags_file())
    assert config.flags["conversation_optimization"].parameters["targetTokens"] == 250000
    assert config.flags["semantic_cache"].parameters["minSimilarity"] == 0.935


def test_canary_weights_render_under_the_gateway_backend_names(helm: Any) -> None:
    config = parse_gateway_config(helm.render("canary").flags_file())
    assert {name: c.canary_weight for name, c in config.canaries.items()} == {
        "orchestrator": 10,
        "cache": 50,
        "semantic_cache": 5,
    }
    assert config.canary_weight("lead_scoring") == 0


def test_the_loader_would_refuse_a_broken_file(default_render: Any) -> None:
    """Guards the tests above: the gateway's loader is strict, so passing them means something."""
    text = default_render.flags_file().replace("rolloutPercent: 100", "rolloutPercent: 150", 1)
    with pytest.raises(ValueError, match=r"rolloutPercent|rollout_percent"):
        parse_gateway_config(text)
