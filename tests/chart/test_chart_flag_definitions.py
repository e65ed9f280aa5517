"""Every flag parameter is defined once (tollgate.common.flag_definitions): the chart schema, the
runbook's flag table and `tollgate rollout` know exactly the parameters the definition has."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import pytest
import yaml

from tollgate.cli.rollout import EXIT_USAGE, FlagChange, FlagDocuments, FlagsFile, RolloutError
from tollgate.common.flag_definitions import FLAGS, FlagDefinition
from tollgate.conversation_optimizer.policy import Strategy

REPO = Path(__file__).resolve().parents[2]
# | `exactCache` | `exact_cache` | `ttlSeconds` |
TABLE_ROW = re.compile(r"^\|\s*`(\w+)`\s*\|\s*`(\w+)`\s*\|(.*)\|\s*$")


def docs_flag_table() -> dict[str, tuple[str, set[str]]]:
    """helm key -> (flags-file key, parameter names) from docs/operations.md."""
    rows = {}
    for line in (REPO / "docs" / "operations.md").read_text().splitlines():
        match = TABLE_ROW.match(line)
        if match:
            helm_key, file_key, cell = match.groups()
            rows[helm_key] = (file_key, set(re.findall(r"`(\w+)`", cell)))
    return rows


def test_the_chart_schema_has_exactly_the_defined_flags_and_parameters(
    values_schema: dict[str, Any],
) -> None:
    flags = values_schema["properties"]["flags"]["properties"]
    assert set(flags) == {d.helm_key for d in FLAGS}
    for definition in FLAGS:
        parameters = flags[definition.helm_key]["properties"]["parameters"]
        assert parameters["additionalProperties"] is False, definition.key
        assert set(parameters["properties"]) == definition.parameter_names(), definition.key


def test_the_runbook_flag_table_has_exactly_the_defined_parameters() -> None:
    table = docs_flag_table()
    assert set(table) == {d.helm_key for d in FLAGS}
    for definition in FLAGS:
        file_key, names = table[definition.helm_key]
        assert file_key == definition.key
        assert names == definition.parameter_names(), definition.key


def test_chart_defaults_use_only_defined_parameters(chart_values: dict[str, Any]) -> None:
    for definition in FLAGS:
        given = chart_values["flags"][definition.helm_key].get("parameters") or {}
        assert set(given) <= definition.parameter_names(), definition.key
        definition.parameters.model_validate(given)


def _document(key: str, parameters: dict[str, Any]) -> dict[str, Any]:
    flag = {"enabled": True, "rolloutPercent": 100, "mode": "enforce", "parameters": parameters}
    return {"version": 1, "flags": {key: flag}, "canaries": {}}


@pytest.mark.parametrize("definition", FLAGS, ids=lambda d: d.key)
def test_the_cli_accepts_every_defined_parameter_and_nothing_else(
    definition: FlagDefinition,
) -> None:
    defaults = definition.parameters().model_dump(by_alias=True, mode="json")
    assert set(defaults) == definition.parameter_names()
    FlagsFile(_document(definition.key, defaults)).check()
    with pytest.raises(RolloutError, match="parameters refused"):
        FlagsFile(_document(definition.key, {**defaults, "notAParameter": 1})).check()


def test_cli_set_flag_parameter_is_checked_against_the_definition() -> None:
    helm = FlagsFile(_document("exact_cache", {}))
    overrides: dict[str, Any] = {}
    FlagChange("exact_cache", parameters={"ttlSeconds": 600}).apply(overrides, helm)
    assert overrides["flags"]["exact_cache"]["parameters"] == {"ttlSeconds": 600}
    for bad in ({"ttl": 600}, {"ttlSeconds": -1}):
        refused_overrides: dict[str, Any] = {}
        FlagChange("exact_cache", parameters=bad).apply(refused_overrides, helm)
        # What the gateway would apply is checked before anything is written.
        documents = FlagDocuments(helm, yaml.safe_dump(helm.data), refused_overrides, None)
        with pytest.raises(RolloutError) as refused:
            documents.effective("the change")
        assert refused.value.exit_code == EXIT_USAGE


def test_the_cli_refuses_an_unknown_flag() -> None:
    with pytest.raises(RolloutError, match="unknown flag"):
        FlagsFile(_document("turbo_mode", {})).check()


def test_strategy_names_are_the_optimizers() -> None:
    parameters = FLAGS[0].parameters_schema()["properties"]
    assert FLAGS[0].key == "conversation_optimization"
    assert set(parameters["strategies"]["items"]["enum"]) == {s.value for s in Strategy}
