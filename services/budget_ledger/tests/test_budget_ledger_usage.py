"""Usage and savings reports from committed and recorded requests; the `tollgate report` CLI."""

from __future__ import annotations

import asyncio
import io
from pathlib import Path

import pytest

from tollgate.cli import report as report_command
from tollgate.cli.main import build_parser
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2


def record(
    model: str,
    cache_status: int,
    baseline: int,
    *optimizations: tuple[str, int, int, int],
    task: int = common_pb2.TASK_TYPE_CHAT,
    input_tokens: int = 100,
    output_tokens: int = 50,
) -> pb.UsageRecord:
    return pb.UsageRecord(
        model=model,
        task=task,
        usage=common_pb2.Usage(
            input_tokens=input_tokens, output_tokens=output_tokens, cache_read_input_tokens=20
        ),
        baseline_cost_micros=baseline,
        cache_status=cache_status,
        optimizations=[
            common_pb2.OptimizationReport(
                optimization=name, mode=mode, applied=True, tokens_saved=tokens, micros_saved=micros
            )
            for name, mode, tokens, micros in optimizations
        ],
    )


ENFORCE = common_pb2.FLAG_MODE_ENFORCE
SHADOW = common_pb2.FLAG_MODE_SHADOW


async def drive(ledger) -> None:
    """Three paid requests, two exact-cache hits and one semantic hit, on two keys."""
    paid = [
        (
            "p1",
            "key-a",
            "claude-sonnet-4-5",
            3_000,
            4_000,
            [("conversation_optimization", ENFORCE, 300, 1_000)],
        ),
        ("p2", "key-a", "claude-haiku-4-5", 1_000, 1_000, [("semantic_cache", SHADOW, 0, 700)]),
        (
            "p3",
            "key-b",
            "claude-sonnet-4-5",
            2_000,
            2_500,
            [("conversation_optimization", ENFORCE, 100, 500)],
        ),
    ]
    for request_id, key, model, cost, baseline, optimizations in paid:
        await ledger.reserve(request_id, cost * 2, api_key=key)
        await ledger.stub.Commit(
            pb.CommitRequest(
                context=ledger.context(request_id, api_key=key, contact="lead-1"),
                actual_micros=cost,
                record=record(model, common_pb2.CACHE_STATUS_MISS, baseline, *optimizations),
            )
        )
    hits = [
        ("h1", common_pb2.CACHE_STATUS_EXACT, "exact_cache", 3_000),
        ("h2", common_pb2.CACHE_STATUS_EXACT, "exact_cache", 3_000),
        ("h3", common_pb2.CACHE_STATUS_SEMANTIC, "semantic_cache", 2_000),
    ]
    for request_id, status, optimization, baseline in hits:
        await ledger.stub.RecordUsage(
            pb.RecordUsageRequest(
                context=ledger.context(request_id, api_key="key-a"),
                record=record(
                    "claude-sonnet-4-5", status, baseline, (optimization, ENFORCE, 150, baseline)
                ),
            )
        )


async def query(ledger, *dimensions: int) -> pb.UsageReport:
    reply = await ledger.stub.QueryUsage(
        pb.QueryUsageRequest(tenant_id="acme", group_by=list(dimensions))
    )
    return reply.report


async def test_totals_and_groups_add_up(ledger) -> None:
    await drive(ledger)
    report = await query(ledger, pb.USAGE_DIMENSION_MODEL)
    totals = report.totals
    assert totals.requests == 6
    assert totals.cost_micros == 6_000
    assert totals.baseline_cost_micros == 4_000 + 1_000 + 2_500 + 3_000 + 3_000 + 2_000
    assert totals.saved_micros == 15_500 - 6_000
    assert totals.input_tokens == 6 * 120  # input + cache reads
    assert totals.output_tokens == 6 * 50
    by_model = {r.group["model"]: (r.requests, r.cost_micros) for r in report.rows}
    assert by_model == {"claude-sonnet-4-5": (5, 5_000), "claude-haiku-4-5": (1, 1_000)}

    by_status = await query(ledger, pb.USAGE_DIMENSION_CACHE_STATUS)
    assert {r.group["cache_status"]: r.requests for r in by_status.rows} == {
        "miss": 3,
        "exact": 2,
        "semantic": 1,
    }
    by_key_and_task = await query(ledger, pb.USAGE_DIMENSION_API_KEY, pb.USAGE_DIMENSION_TASK)
    assert {(r.group["api_key"], r.group["task"]): r.requests for r in by_key_and_task.rows} == {
        ("key-a", "chat"): 5,
        ("key-b", "chat"): 1,
    }
    by_contact = await query(ledger, pb.USAGE_DIMENSION_CONTACT)
    assert {r.group["contact"]: r.cost_micros for r in by_contact.rows} == {
        "": 0,
        "lead-1": 6_000,
    }
    by_day = await query(ledger, pb.USAGE_DIMENSION_DAY, pb.USAGE_DIMENSION_MINUTE)
    assert sum(r.requests for r in by_day.rows) == 6
    assert all(len(r.group["day"]) == 10 for r in by_day.rows)


async def test_savings_by_optimization_keep_shadow_apart(ledger) -> None:
    await drive(ledger)
    savings = {s.optimization: s for s in (await query(ledger)).savings_by_optimization}
    assert set(savings) == {"exact_cache", "conversation_optimization", "semantic_cache"}
    exact = savings["exact_cache"]
    assert (exact.requests_applied, exact.tokens_saved, exact.micros_saved) == (2, 300, 6_000)
    conversation = savings["conversation_optimization"]
    assert (conversation.requests_applied, conversation.micros_saved) == (2, 1_500)
    semantic = savings["semantic_cache"]
    assert (semantic.requests_applied, semantic.micros_saved) == (1, 2_000)
    assert (semantic.shadow_requests, semantic.shadow_micros_saved) == (1, 700)


async def test_record_usage_is_idempotent_and_costs_nothing(ledger, db) -> None:
    await ledger.budget(10_000)
    request = pb.RecordUsageRequest(
        context=ledger.context("hit-1"),
        record=record("claude-sonnet-4-5", common_pb2.CACHE_STATUS_EXACT, 3_000),
    )
    first = await ledger.stub.RecordUsage(request)
    second = await ledger.stub.RecordUsage(request)
    assert first.entry_id == second.entry_id
    assert await db.fetchval("SELECT count(*) FROM ledger_entries") == 1
    state = (await ledger.states())[0]
    assert (state.spent_micros, state.held_micros) == (0, 0)  # a cache hit reserves nothing


async def test_reports_are_scoped_to_the_tenant(ledger) -> None:
    await drive(ledger)
    other = await ledger.stub.QueryUsage(pb.QueryUsageRequest(tenant_id="globex"))
    assert other.report.totals.requests == 0
    assert list(other.report.savings_by_optimization) == []


async def test_the_report_command_prints_tables_and_writes_a_page(
    ledger, ledger_address: str, tmp_path: Path
) -> None:
    await ledger.budget(50_000)
    await ledger.budget(8_000, kind=pb.SCOPE_KIND_API_KEY, subject="key-a")
    await drive(ledger)
    await ledger.reserve("open-hold", 1_000, api_key="key-a")
    page = tmp_path / "report.html"
    args = build_parser().parse_args(
        ["report", "--ledger", ledger_address, "--tenant", "acme", "--html", str(page)]
    )
    assert args.handler is report_command.run
    out = io.StringIO()
    # The command is synchronous; run it off the loop that serves the ledger.
    assert await asyncio.to_thread(report_command.run, args, out) == 0
    text = out.getvalue()
    assert "requests 6 · cost $0.006 · without Tollgate $0.0155 · saved $0.0095 (61.3%)" in text
    model_line = next(line for line in text.splitlines() if line.startswith("| claude-sonnet"))
    assert model_line.split("|")[2].strip() == "5"  # requests answered by that model
    assert "| exact_cache" in text
    assert "| api_key key-a" in text

    html = page.read_text()
    assert html.startswith("<!DOCTYPE html>")
    assert html.count("<svg") == 4
    assert "http://" not in html
    assert "https://" not in html
    assert "<script" not in html
    for heading in (
        "Cost and savings by",
        "Savings by optimization",
        "Cache hit rates",
        "Budget use",
    ):
        assert heading in html
    assert "exact 2 (33.3%)" in html


@pytest.mark.parametrize(
    ("micros", "text"),
    [(0, "$0.00"), (6_000, "$0.006"), (1_234_567, "$1.234567"), (-2_500_000, "-$2.50")],
)
def test_dollars_are_exact(micros: int, text: str) -> None:
    from tollgate.cli.report_html import dollars

    assert dollars(micros) == text
