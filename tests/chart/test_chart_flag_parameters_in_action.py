"""The flag parameters that once were accepted and ignored (`exactCache.ttlSeconds`) or refused by
the chart (`strategies`, `failClosedTenants`) work from Helm values: rendered by the chart, read
by the gateway, and acted on by a running suite."""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import grpc
import pytest
import yaml

from tests.conftest import OTHER_TENANT_KEY, running_full_suite
from tollgate.client import TollgateError
from tollgate.common.flag_definitions import (
    BudgetEnforcementParameters,
    ConversationOptimizationParameters,
    ExactCacheParameters,
)
from tollgate.emulator import EmulatorServer
from tollgate.gateway.flags_config import parse_gateway_config
from tollgate.v1 import common_pb2

QUESTION = {
    "model": "claude-sonnet-5-5",
    "messages": [{"role": "user", "content": "Which documents does a pre-approval need?"}],
    "max_tokens": 120,
    "temperature": 0.0,
}


def flags_from_helm(helm: Any, values: dict[str, Any]) -> dict[str, Any]:
    """The flags file the chart renders for these `--set` values, as the gateway would read it."""
    text = helm.render("default", values=values).flags_file()
    parse_gateway_config(text)
    return dict(yaml.safe_load(text))


def test_the_three_parameters_render_and_parse_as_typed_values(helm: Any) -> None:
    text = helm.render(
        "default",
        values={
            "flags.exactCache.parameters.ttlSeconds": 600,
            "flags.conversationOptimization.parameters.strategies": ["keep_recent", "facts_note"],
            "flags.budgetEnforcement.parameters.failClosedTenants": ["acme"],
        },
    ).flags_file()
    config = parse_gateway_config(text)
    assert config.parameters("exact_cache", ExactCacheParameters).ttl_seconds == 600
    optimizer = config.parameters("conversation_optimization", ConversationOptimizationParameters)
    assert optimizer.strategies == ("keep_recent", "facts_note")
    budget = config.parameters("budget_enforcement", BudgetEnforcementParameters)
    assert budget.fail_closed_tenants == ("acme",)


@pytest.mark.parametrize(
    ("key", "value"),
    [
        ("flags.conversationOptimization.parameters.strategies", ["keep_everything"]),
        ("flags.exactCache.parameters.ttlSeconds", -5),
        ("flags.budgetEnforcement.parameters.failClosedTenants", "acme"),
        ("flags.exactCache.parameters.ttl", 60),
    ],
)
def test_the_chart_refuses_what_the_definition_refuses(helm: Any, key: str, value: Any) -> None:
    assert "parameters" in helm.render_error("default", values={key: value})


async def test_exact_cache_ttl_seconds_from_helm_expires_answers(
    helm: Any,
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    flags = flags_from_helm(
        helm,
        {
            "flags.exactCache.parameters.ttlSeconds": 1,
            "flags.conversationOptimization.enabled": False,
        },
    )
    async with running_full_suite(
        emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, flags
    ) as suite:
        async with suite.client() as client:
            await client.complete(**QUESTION)
            await suite.settled()
            hit = await client.complete(**QUESTION)
            assert hit.account.cache_status == common_pb2.CACHE_STATUS_EXACT
            await asyncio.sleep(1.5)
            expired = await client.complete(**QUESTION)
        assert expired.account.cache_status == common_pb2.CACHE_STATUS_MISS
        assert suite.upstream_calls() == 2


async def test_fail_closed_tenants_from_helm_refuse_while_others_fail_open(
    helm: Any,
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    flags = flags_from_helm(
        helm,
        {
            "flags.budgetEnforcement.parameters.failMode": "open",
            "flags.budgetEnforcement.parameters.failClosedTenants": ["acme"],
            "flags.conversationOptimization.enabled": False,
        },
    )
    async with running_full_suite(
        emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, flags
    ) as suite:
        await suite.servers["budget_ledger"].stop(grace=0)
        async with suite.client() as acme, suite.client(OTHER_TENANT_KEY) as globex:
            with pytest.raises(TollgateError) as refused:
                await acme.complete(**QUESTION)
            answered = await globex.complete(**QUESTION)
    assert refused.value.code == grpc.StatusCode.UNAVAILABLE
    assert "fail closed" in refused.value.message
    budget = next(
        r for r in answered.account.optimizations if r.optimization == "budget_enforcement"
    )
    assert "unmetered" in budget.detail
