"""Measured precision of the semantic cache through the gateway, with the emulator over HTTP.

Two questions the cache treats as one, which the emulator answers differently (as Claude would a
near-miss): the served hit is verified against a fresh answer, the verdict disagrees, measured
precision falls under the floor and the tenant's cache stops serving. A verification is a call
of its own: charged through the ledger and counted once when the request is retried.
"""

from __future__ import annotations

from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from copy import deepcopy
from pathlib import Path
from typing import Any

from tests.conftest import ALL_ON, FullSuite, running_full_suite
from tests.e2e.test_e2e_semantic_cache import _ask as ask
from tollgate.client import CompletionResult, TollgateClient
from tollgate.emulator import EmulatorServer
from tollgate.emulator.control_client import configure as configure_emulator
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2

FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["semantic_cache"] = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}
# Off, so that a repeated question reaches the semantic cache again.
FLAGS["flags"]["exact_cache"]["enabled"] = False

FIRST = "What documents do I need to get pre-approved for a mortgage?"
SECOND = "Which documents are needed to get pre-approved for a mortgage?"


def _ask(question: str, request_id: str = "") -> dict[str, Any]:
    return {**ask(question), "request_id": request_id}


@asynccontextmanager
async def _suite(
    emulator: EmulatorServer, tmp_path: Path, redis_url: str, redis: str, postgres_dsn: str
) -> AsyncIterator[FullSuite]:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis,
        postgres_dsn,
        FLAGS,
        with_semantic_cache=True,
        # Every served hit of this tenant is verified; precision is re-read at once.
        semantic_overrides={
            "tenant_verify_sample_rates": {"acme": 1.0},
            "precision_refresh_seconds": 0.0,
        },
        semantic_cache_timeout_seconds=10.0,
    ) as suite:
        yield suite


async def _settled(suite: FullSuite) -> None:
    # The verification call's commit and SemanticVerify start from work after the answer.
    for _ in range(3):
        await suite.settled()


def _semantic_detail(result: CompletionResult) -> str:
    return next(
        r.detail for r in result.account.optimizations if r.optimization == "semantic_cache"
    )


async def _usage(client: TollgateClient) -> gateway_pb2.GetUsageReportResponse:
    reply: gateway_pb2.GetUsageReportResponse = await client.stub.GetUsageReport(
        gateway_pb2.GetUsageReportRequest(
            group_by=[budget_ledger_pb2.USAGE_DIMENSION_CACHE_STATUS]
        ),
        metadata=client.metadata,
    )
    return reply


async def test_disagreeing_answers_drop_the_tenant_cache_to_shadow(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    scripted = {
        "documents do i need": "Bring 2 recent pay stubs and 1 year of tax returns.",
        "documents are needed": "Bring 3 bank statements and a photo ID; no tax returns.",
    }
    await configure_emulator(emulator.base_url, {"scripted_answers": scripted})
    async with (
        _suite(emulator, tmp_path, redis_url, redis_namespace, postgres_dsn) as suite,
        suite.client() as client,
    ):
        first = await client.complete(**_ask(FIRST))
        await _settled(suite)
        served = await client.complete(**_ask(SECOND))
        await _settled(suite)
        calls_after_verification = suite.upstream_calls()
        later = await client.complete(**_ask(SECOND))
        await _settled(suite)
        usage = await _usage(client)

    # The second question was served from the cache, then verified against Claude.
    assert served.account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC
    assert served.text == first.text == "Bring 2 recent pay stubs and 1 year of tax returns."
    assert "verified against Claude" in _semantic_detail(served)
    assert calls_after_verification == 2
    # Claude's two answers disagree: measured precision is under the floor, so the same
    # question is no longer served; the would-be hit is reported and Claude answers it.
    assert later.account.cache_status == common_pb2.CACHE_STATUS_MISS
    assert later.text == "Bring 3 bank statements and a photo ID; no tax returns."
    detail = _semantic_detail(later)
    assert "would have answered, in shadow" in detail
    assert "measured precision 0.000 over 1 verified" in detail
    assert detail.endswith(": shadow")
    [chat] = [p for p in usage.semantic_precision if p.task == "chat"]
    # The would-be hit was verified too (the same two answers disagree again).
    assert (chat.agreements, chat.disagreements) == (0, 2)
    assert chat.shadow
    assert chat.lower_bound < chat.upper_bound < chat.floor == 0.99


async def test_a_verification_is_charged_once_when_the_request_is_retried(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    scripted = {"pre-approved": "Bring 2 recent pay stubs and 1 year of tax returns."}
    await configure_emulator(emulator.base_url, {"scripted_answers": scripted})
    async with (
        _suite(emulator, tmp_path, redis_url, redis_namespace, postgres_dsn) as suite,
        suite.client() as client,
    ):
        await client.complete(**_ask(FIRST))
        await _settled(suite)
        served = await client.complete(**_ask(SECOND, request_id="req-verify-1"))
        await _settled(suite)
        retried = await client.complete(**_ask(SECOND, request_id="req-verify-1"))
        await _settled(suite)
        usage = await _usage(client)
        calls = suite.upstream_calls()

    assert served.account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC
    assert retried.account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC
    # The first question and one verification: the retry asked Claude nothing.
    assert calls == 2
    rows = {row.group["cache_status"]: row for row in usage.report.rows}
    verification = rows["verification"]
    assert verification.requests == 1
    assert verification.cost_micros > 0
    assert verification.saved_micros == 0
    lines = {line.optimization: line for line in usage.report.savings_by_optimization}
    assert lines["semantic_verification"].requests_applied == 1
    assert lines["semantic_verification"].micros_saved == 0
    # The two answers agree, counted once: the cache keeps serving.
    [chat] = [p for p in usage.semantic_precision if p.task == "chat"]
    assert (chat.agreements, chat.disagreements) == (1, 0)
    assert not chat.shadow
    assert "measured precision 1.000 over 1 verified" in _semantic_detail(retried)
