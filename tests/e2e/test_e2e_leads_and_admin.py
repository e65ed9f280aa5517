"""Lead scoring through the gateway (reasoning charged to the budget) and the admin view of the
flags and routes in force."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import grpc
import pytest

from tests.conftest import ADMIN_KEY, API_KEY, FullSuite
from tollgate.cli import report
from tollgate.cli.main import build_parser
from tollgate.v1 import gateway_pb2, lead_scoring_pb2


def _lead(lead_id: str, budget: str = "$450,000") -> lead_scoring_pb2.Lead:
    return lead_scoring_pb2.Lead(
        profile=lead_scoring_pb2.LeadProfile(lead_id=lead_id, name="Maria Lopez", source="web"),
        answers=lead_scoring_pb2.QualificationAnswers(
            budget=budget, timeline="3 months", location="Austin", pre_approval="yes"
        ),
    )


async def test_scoring_with_reasoning_charges_exactly_what_claude_cost(
    full_suite: FullSuite,
) -> None:
    async with full_suite.client() as client:
        reply = await client.stub.ScoreLead(
            gateway_pb2.ScoreLeadRequest(lead=_lead("lead-1"), with_reasoning=True),
            metadata=client.metadata,
        )
    await full_suite.settled()
    score = reply.score
    assert 0 <= score.score <= 100
    assert round(sum(c.contribution for c in score.components), 4) == round(score.score, 4)
    assert score.reasoning_cost.total_micros > 0
    assert full_suite.upstream_calls() == 1
    async with full_suite.client(ADMIN_KEY) as admin:
        usage = await admin.stub.GetUsageReport(
            gateway_pb2.GetUsageReportRequest(tenant_id="acme"), metadata=admin.metadata
        )
    assert usage.report.totals.cost_micros == score.reasoning_cost.total_micros


async def test_batch_scoring_streams_every_lead(full_suite: FullSuite) -> None:
    leads = [_lead(f"lead-{i}") for i in range(20)]
    async with full_suite.client() as client:
        items = [
            item
            async for item in client.stub.ScoreLeads(
                gateway_pb2.ScoreLeadsRequest(leads=leads), metadata=client.metadata
            )
        ]
    assert sorted(item.index for item in items) == list(range(20))
    assert all(item.HasField("score") for item in items)
    assert full_suite.upstream_calls() == 0


async def test_effective_config_shows_flags_and_routes_to_admins_only(
    full_suite: FullSuite,
) -> None:
    request = gateway_pb2.GetEffectiveConfigRequest(tenant_id="acme", contact_id="lead-1")
    async with full_suite.client(ADMIN_KEY) as admin:
        reply = await admin.stub.GetEffectiveConfig(request, metadata=admin.metadata)
    flags = {flag.key: flag for flag in reply.flags}
    assert flags["exact_cache"].active
    assert not flags["semantic_cache"].active
    assert {route.service: route.track for route in reply.routes}["orchestrator"] == "stable"
    assert len(reply.config_version) == 12
    async with full_suite.client(API_KEY) as client:
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.GetEffectiveConfig(request, metadata=client.metadata)
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_a_tenant_sees_only_its_own_usage(full_suite: FullSuite) -> None:
    async with full_suite.client(API_KEY) as client:
        await client.complete(
            messages=[{"role": "user", "content": "Hello"}], max_tokens=50, temperature=0.0
        )
        await full_suite.settled()
        own = await client.stub.GetUsageReport(
            gateway_pb2.GetUsageReportRequest(), metadata=client.metadata
        )
        assert own.report.tenant_id == "acme"
        assert own.report.totals.requests == 1
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await client.stub.GetUsageReport(
                gateway_pb2.GetUsageReportRequest(tenant_id="globex"), metadata=client.metadata
            )
    assert caught.value.code() == grpc.StatusCode.PERMISSION_DENIED


async def test_tollgate_report_reads_through_the_gateway_with_an_admin_key(
    full_suite: FullSuite, tmp_path: Path
) -> None:
    async with full_suite.client() as client:
        await client.complete(
            messages=[{"role": "user", "content": "Hello"}], max_tokens=50, temperature=0.0
        )
        await client.complete(
            messages=[{"role": "user", "content": "Hello"}], max_tokens=50, temperature=0.0
        )
    await full_suite.settled()
    page = tmp_path / "report.html"
    out = io.StringIO()
    base = ["report", "--gateway", full_suite.gateway.address, "--tenant", "acme"]
    args = build_parser().parse_args([*base, "--api-key", ADMIN_KEY, "--html", str(page)])
    assert await asyncio.to_thread(report.run, args, out) == 0
    text = out.getvalue()
    assert "requests 2" in text
    assert "| exact" in text
    assert "<svg" in page.read_text()
    denied = build_parser().parse_args([*base, "--api-key", API_KEY])
    assert await asyncio.to_thread(report.run, denied, io.StringIO()) == 1
