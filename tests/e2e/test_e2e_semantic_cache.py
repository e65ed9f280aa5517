"""The semantic cache through the gateway: a paraphrase is answered from the cache with its
similarity and saving; a near-miss (another price) and another tenant never are."""

from __future__ import annotations

from collections.abc import AsyncIterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ADMIN_KEY, ALL_ON, OTHER_TENANT_KEY, FullSuite, running_full_suite
from tollgate.emulator import EmulatorServer
from tollgate.v1 import common_pb2, gateway_pb2

FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["semantic_cache"] = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}


def _ask(question: str) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "system": "You are the assistant of a real-estate CRM.",
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 1000,
        "temperature": 0.0,
    }


@pytest.fixture
async def semantic_suite(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> AsyncIterator[FullSuite]:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        FLAGS,
        with_semantic_cache=True,
        semantic_cache_timeout_seconds=10.0,
    ) as running:
        yield running


async def test_paraphrases_hit_and_near_misses_do_not(semantic_suite: FullSuite) -> None:
    async with semantic_suite.client() as client, semantic_suite.client(OTHER_TENANT_KEY) as other:
        original = await client.complete(
            **_ask("What documents do I need to get pre-approved for a mortgage?")
        )
        await semantic_suite.settled()
        paraphrase = await client.complete(
            **_ask("Which documents are needed to get pre-approved for a mortgage?")
        )
        await semantic_suite.settled()
        # The same paraphrase again: the semantic answer was stored under its exact key too, so
        # it hits at once rather than waiting on a fill lease nobody will fill.
        again = await client.complete(
            **_ask("Which documents are needed to get pre-approved for a mortgage?"),
            timeout=5.0,
        )
        near_miss = await client.complete(**_ask("Show me 3-bed homes in Austin under $600k"))
        await semantic_suite.settled()
        other_price = await client.complete(**_ask("Show me 3-bed homes in Austin under $500k"))
        other_tenant = await other.complete(
            **_ask("Which documents are needed to get pre-approved for a mortgage?")
        )
    assert paraphrase.account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC
    assert paraphrase.text == original.text
    assert paraphrase.account.similarity >= 0.8
    assert paraphrase.account.cost.total_micros == 0
    assert paraphrase.account.saved_micros > 0
    assert again.account.cache_status == common_pb2.CACHE_STATUS_EXACT
    assert again.text == original.text
    assert near_miss.account.cache_status == common_pb2.CACHE_STATUS_MISS
    assert other_price.account.cache_status == common_pb2.CACHE_STATUS_MISS
    detail = next(
        r.detail for r in other_price.account.optimizations if r.optimization == "semantic_cache"
    )
    assert "differ" in detail
    assert other_tenant.account.cache_status == common_pb2.CACHE_STATUS_MISS


async def test_a_paraphrase_for_another_contact_never_gets_an_answer_built_from_variables(
    semantic_suite: FullSuite,
) -> None:
    async with semantic_suite.client() as client:
        dana = await client.complete(
            **_ask("Write the follow-up e-mail about the offer."),
            contact_id="contact-dana",
            template_variables={"company": "Dana Reyes <dana@example.com>, offer $410,000"},
        )
        await semantic_suite.settled()
        carol = await client.complete(
            **_ask("Please write the follow-up e-mail about the offer."),
            contact_id="contact-carol",
            template_variables={"company": "Carol Diaz <carol@example.com>, offer $385,000"},
        )
        await semantic_suite.settled()
        async with semantic_suite.client(ADMIN_KEY) as admin:
            usage = await admin.stub.GetUsageReport(
                gateway_pb2.GetUsageReportRequest(tenant_id="acme"), metadata=admin.metadata
            )
    assert carol.account.cache_status == common_pb2.CACHE_STATUS_MISS
    detail = next(
        r.detail for r in carol.account.optimizations if r.optimization == "semantic_cache"
    )
    assert "template variables" in detail
    assert semantic_suite.upstream_calls() == 2
    costs = dana.account.cost.total_micros + carol.account.cost.total_micros
    totals = usage.report.totals
    assert (totals.requests, totals.cost_micros) == (2, costs)
