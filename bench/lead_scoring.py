"""Lead scoring throughput.

1. 10,000 leads without reasoning: the in-process scorer (baseline) against the same leads
   streamed over gRPC by ComputeLeadScores, and against one unary ComputeLeadScore per lead.
2. With reasoning, against the Anthropic API emulator at realistic latency (300 ms to the first
   token, 80 tokens/s) through a real orchestrator: one ComputeLeadScore at a time (baseline)
   against one ComputeLeadScores batch with bounded concurrency. Goal: batch >= 3x one-by-one.

`uv run python -m bench.lead_scoring [--leads 10000] [--reasoning-leads 100] [--concurrency 16]`
"""

from __future__ import annotations

import argparse
import asyncio
import time
from collections.abc import Sequence

import grpc

from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.emulator.config import EmulatorConfig, LatencyConfig
from tollgate.lead_scoring.model import load_model
from tollgate.lead_scoring.scorer import LeadScorer
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings
from tollgate.lead_scoring.synthetic import synthetic_rows
from tollgate.lead_scoring.training_data import parse_events, parse_time
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc

DAY = 86_400
_EVENT_KINDS = {
    "message": lead_scoring_pb2.ENGAGEMENT_TYPE_MESSAGE,
    "reply": lead_scoring_pb2.ENGAGEMENT_TYPE_REPLY,
    "open": lead_scoring_pb2.ENGAGEMENT_TYPE_OPEN,
    "visit": lead_scoring_pb2.ENGAGEMENT_TYPE_VISIT,
}
_QUESTIONS = [f.name for f in lead_scoring_pb2.QualificationAnswers.DESCRIPTOR.fields]


def bench_leads(count: int, as_of: int, seed: int = 42) -> list[lead_scoring_pb2.Lead]:
    """Synthetic leads with answers, dated engagement events and a short conversation."""
    leads = []
    for i, row in enumerate(synthetic_rows(count, seed)):
        lead = lead_scoring_pb2.Lead(
            profile=lead_scoring_pb2.LeadProfile(
                lead_id=f"lead-{i}", name=f"Lead {i}", source=row["source"]
            ),
            answers=lead_scoring_pb2.QualificationAnswers(**{q: row[q] for q in _QUESTIONS}),
        )
        # The synthetic row's history, moved so that its snapshot is `as_of`.
        snapshot = parse_time(row["snapshot_at"], "snapshot_at")
        lead.profile.created_at.seconds = int(
            as_of - (snapshot - parse_time(row["created_at"], ""))
        )
        for kind, at in parse_events(row["events"]):
            lead.events.add(type=_EVENT_KINDS[kind.value]).at.seconds = int(as_of - (snapshot - at))
        for role, text in (
            (common_pb2.ROLE_USER, f"Hi, I'm looking at {row['property_type'] or 'homes'}."),
            (common_pb2.ROLE_ASSISTANT, "Great, what budget and timeline do you have in mind?"),
            (common_pb2.ROLE_USER, f"Budget {row['budget'] or 'unsure'}, {row['timeline']}."),
        ):
            lead.conversation.add(
                role=role, content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))]
            )
        leads.append(lead)
    return leads


def _context(tenant: str) -> common_pb2.RequestContext:
    return common_pb2.RequestContext(tenant_id=tenant, request_id="bench")


async def _stream(
    stub: lead_scoring_pb2_grpc.LeadScoringServiceStub,
    leads: Sequence[lead_scoring_pb2.Lead],
    tenant: str,
    as_of: int,
    with_reasoning: bool,
    concurrency: int,
) -> tuple[float, int]:
    request = lead_scoring_pb2.ComputeLeadScoresRequest(
        context=_context(tenant),
        leads=leads,
        with_reasoning=with_reasoning,
        max_concurrency=concurrency,
    )
    request.as_of.seconds = as_of
    started = time.perf_counter()
    scored = 0
    async for item in stub.ComputeLeadScores(request):
        # With reasoning asked for, count only leads that really got Claude's analysis.
        if item.WhichOneof("outcome") == "score" and (
            not with_reasoning or item.score.HasField("reasoning")
        ):
            scored += 1
    return time.perf_counter() - started, scored


async def _one_by_one(
    stub: lead_scoring_pb2_grpc.LeadScoringServiceStub,
    leads: Sequence[lead_scoring_pb2.Lead],
    tenant: str,
    as_of: int,
    with_reasoning: bool,
) -> tuple[float, int]:
    started = time.perf_counter()
    scored = 0
    for lead in leads:
        request = lead_scoring_pb2.ComputeLeadScoreRequest(
            context=_context(tenant), lead=lead, with_reasoning=with_reasoning
        )
        request.as_of.seconds = as_of
        response = await stub.ComputeLeadScore(request)
        scored += not with_reasoning or response.score.HasField("reasoning")
    return time.perf_counter() - started, scored


def _row(name: str, count: int, seconds: float, baseline_rate: float) -> str:
    rate = count / seconds
    shown = f"{rate:,.0f}" if rate >= 100 else f"{rate:.2f}"
    return f"| {name} | {count:,} | {seconds:.2f} | {shown} | {rate / baseline_rate:.2f}x |"


async def without_reasoning(count: int, concurrency: int) -> list[str]:
    as_of = int(time.time())
    leads = bench_leads(count, as_of)
    settings = Settings(host="127.0.0.1", port=0, batch_max_leads=max(count, 1))
    scorer = LeadScorer(load_model(), settings, None)
    started = time.perf_counter()
    for lead in leads:
        scorer.score_offline(lead, float(as_of))
    baseline = time.perf_counter() - started
    base_rate = count / baseline
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address, options=_big_messages()) as channel,
    ):
        stub = lead_scoring_pb2_grpc.LeadScoringServiceStub(channel)
        streamed, scored = await _stream(stub, leads, "bench", as_of, False, concurrency)
        assert scored == count, f"only {scored} of {count} leads were scored"
        unary_count = min(count, 2_000)
        unary, _ = await _one_by_one(stub, leads[:unary_count], "bench", as_of, False)
    return [
        f"Without reasoning ({count:,} leads; ratio against the in-process scorer)",
        "",
        "| path | leads | seconds | leads/s | vs in-process |",
        "|---|---:|---:|---:|---:|",
        _row("in-process `score_offline` (baseline)", count, baseline, base_rate),
        _row(
            f"gRPC `ComputeLeadScores` stream (concurrency {concurrency})",
            count,
            streamed,
            base_rate,
        ),
        _row("gRPC `ComputeLeadScore`, one call per lead", unary_count, unary, base_rate),
    ]


async def with_reasoning(count: int, concurrency: int) -> list[str]:
    as_of = int(time.time())
    leads = bench_leads(count, as_of, seed=43)
    config = EmulatorConfig(latency=LatencyConfig(ttft_ms=300, tokens_per_second=80))
    async with EmulatorServer(config) as emulator:
        orchestrator_settings = OrchestratorSettings(
            host="127.0.0.1", port=0, anthropic_base_url=emulator.base_url, anthropic_api_key="x"
        )
        async with serving(
            await build_orchestrator(orchestrator_settings), orchestrator_settings
        ) as orchestrator:
            settings = Settings(host="127.0.0.1", port=0, orchestrator_addr=orchestrator.address)
            async with (
                serving(await build_service(settings), settings) as running,
                grpc.aio.insecure_channel(running.address) as channel,
            ):
                stub = lead_scoring_pb2_grpc.LeadScoringServiceStub(channel)
                # Different tenants, so the batch cannot reuse the one-by-one run's cached answers.
                sequential, reasoned = await _one_by_one(
                    stub, leads, "bench-one-by-one", as_of, True
                )
                batched, scored = await _stream(
                    stub, leads, "bench-batch", as_of, True, concurrency
                )
        calls = emulator.stats.requests_total
    # A failed reasoning call is fast; the comparison only means something when none failed.
    assert reasoned == scored == count, f"reasoning: {reasoned} and {scored} of {count} leads"
    base_rate = count / sequential
    rows = [
        f"With reasoning ({count} leads; emulator ttft 300 ms, 80 tokens/s; real orchestrator)",
        "",
        "| path | leads | seconds | leads/s | vs one-by-one |",
        "|---|---:|---:|---:|---:|",
        _row("`ComputeLeadScore` one at a time (baseline)", count, sequential, base_rate),
        _row(f"`ComputeLeadScores` batch (concurrency {concurrency})", count, batched, base_rate),
    ]
    rows += ["", f"Anthropic API calls seen by the emulator: {calls}"]
    return rows


def _big_messages() -> list[tuple[str, int]]:
    # 10,000 leads in one request are a few megabytes.
    return [("grpc.max_send_message_length", 64 * 1024 * 1024)]


async def main(args: argparse.Namespace) -> None:
    lines = await without_reasoning(args.leads, args.concurrency)
    print("\n".join(lines), flush=True)
    print()
    lines = await with_reasoning(args.reasoning_leads, args.concurrency)
    print("\n".join(lines))


if __name__ == "__main__":
    parser = argparse.ArgumentParser(prog="python -m bench.lead_scoring")
    parser.add_argument("--leads", type=int, default=10_000)
    parser.add_argument("--reasoning-leads", type=int, default=100)
    parser.add_argument("--concurrency", type=int, default=16)
    asyncio.run(main(parser.parse_args()))
