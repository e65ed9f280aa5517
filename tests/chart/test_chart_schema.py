"""values.schema.json: generated, current, strict. Helm refuses out-of-range values and unknown
keys at install time, with a message that says where."""

from __future__ import annotations

import subprocess
import sys
from typing import Any

import jsonschema
import pytest
import yaml


def test_schema_is_generated_from_the_script_and_current(facts: Any) -> None:
    result = subprocess.run(
        [sys.executable, str(facts.repo / "scripts" / "gen-chart-schema.py"), "--check"],
        capture_output=True,
        text=True,
        check=False,
    )
    assert result.returncode == 0, result.stderr


def test_schema_is_a_valid_draft_7_schema(values_schema: dict[str, Any]) -> None:
    jsonschema.Draft7Validator.check_schema(values_schema)


def test_every_object_in_the_schema_is_closed(values_schema: dict[str, Any]) -> None:
    """additionalProperties: false wherever properties are named, so no typo goes unnoticed."""
    open_objects = []

    def walk(node: Any, path: str) -> None:
        if isinstance(node, dict):
            if "properties" in node and node.get("additionalProperties") is not False:
                open_objects.append(path or "/")
            for key, child in node.items():
                walk(child, f"{path}/{key}")
        elif isinstance(node, list):
            for index, child in enumerate(node):
                walk(child, f"{path}/{index}")

    walk(values_schema, "")
    assert open_objects == []


def test_chart_values_and_every_value_set_satisfy_the_schema(
    values_schema: dict[str, Any], chart_values: dict[str, Any], facts: Any
) -> None:
    validator = jsonschema.Draft7Validator(values_schema)
    assert list(validator.iter_errors(chart_values)) == []
    for name, path in facts.value_sets.items():
        overrides = yaml.safe_load(path.read_text()) or {}
        errors = [e.message for e in validator.iter_errors(overrides)]
        assert errors == [], name


@pytest.mark.parametrize(
    ("values", "where", "why"),
    [
        ({"flags.semanticCache.rolloutPercent": 150}, "/flags/semanticCache/rolloutPercent", "150"),
        ({"flags.semanticCache.rolloutPercent": -1}, "/flags/semanticCache/rolloutPercent", "-1"),
        ({"flags.exactCache.mode": "on"}, "/flags/exactCache/mode", "on"),
        ({"flags.exactCache.rolloutPrecent": 10}, "/flags/exactCache", "rolloutPrecent"),
        ({"flags.turboMode": {"enabled": True}}, "/flags", "turboMode"),
        ({"flags.semanticCache.parameters.minSimilarity": 1.5}, "minSimilarity", "1.5"),
        (
            {"flags.promptCaching.parameters.ttl": "10m"},
            "/flags/promptCaching/parameters/ttl",
            "'5m', '1h'",
        ),
        ({"services.cache.replicaz": 3}, "/services/cache", "replicaz"),
        ({"services.search": {"enabled": True}}, "/services", "search"),
        ({"services.cache.canary.weight": 101}, "/services/cache/canary/weight", "101"),
        ({"services.gateway.port": 70000}, "/services/gateway/port", "maximum"),
        ({"default.logLevel": "LOUD"}, "/default/logLevel", "'DEBUG', 'INFO'"),
        ({"redis.external.uri": "redis://x"}, "/redis/external", "uri"),
        ({"unknownTopLevel": 1}, "unknownTopLevel", "not allowed"),
        (
            {"services.gateway.apiKeys.keys": [{"id": "a", "tenant": "t", "sha256": "plaintext"}]},
            "/services/gateway/apiKeys/keys/0/sha256",
            "plaintext",
        ),
    ],
)
def test_helm_refuses_invalid_values(
    helm: Any, values: dict[str, Any], where: str, why: str
) -> None:
    error = helm.render_error("default", values=values)
    assert "schema" in error
    assert where in error
    assert why in error


def test_rollout_percent_bounds_are_inclusive(helm: Any) -> None:
    for percent in (0, 100):
        rendered = helm.render("default", values={"flags.exactCache.rolloutPercent": percent})
        assert f"rolloutPercent: {percent}" in rendered.flags_file()
