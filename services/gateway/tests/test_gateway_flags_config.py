"""The flags file is validated strictly: a typo never silently switches something off."""

from __future__ import annotations

import pytest

from tollgate.gateway.flags_config import FlagMode, parse_gateway_config

GOOD = """
version: 1
flags:
  exact_cache: {enabled: true, rolloutPercent: 25, mode: shadow, parameters: {ttlSeconds: 60}}
canaries:
  orchestrator: {canaryWeight: 10}
"""


def test_a_valid_file_parses_with_its_values() -> None:
    config = parse_gateway_config(GOOD)
    flag = config.flag("exact_cache")
    assert (flag.enabled, flag.rollout_percent, flag.mode) == (True, 25, FlagMode.SHADOW)
    assert flag.parameters == {"ttlSeconds": 60}
    assert config.canary_weight("orchestrator") == 10
    assert config.canary_weight("cache") == 0
    assert not config.flag("semantic_cache").enabled
    assert len(config.source_digest) == 12


@pytest.mark.parametrize(
    ("text", "sentence"),
    [
        ("flags: {exact_cache: {rolloutPercent: 150}}", "less than or equal to 100"),
        ("flags: {exact_cache: {rollout: 10}}", "Extra inputs are not permitted"),
        ("flags: {exact_cach: {enabled: true}}", "unknown flag"),
        ("canaries: {redis: {canaryWeight: 5}}", "unknown service"),
        ("version: 2", "unsupported flags file version"),
        ("flags: [", "not valid YAML"),
        ("- a list", "must be a YAML mapping"),
        ("flags: {exact_cache: {mode: maybe}}", "mode"),
    ],
)
def test_invalid_files_are_refused_with_a_reason(text: str, sentence: str) -> None:
    with pytest.raises(ValueError, match=sentence):
        parse_gateway_config(text)
