"""`tollgate report`: usage and savings of one tenant, as tables and a self-contained HTML page.

Reads through the gateway with an admin API key (`--gateway HOST:PORT --api-key KEY`, or the
TOLLGATE_API_KEY environment variable), or straight from the budget ledger inside the cluster
(`--ledger HOST:PORT`). Prints totals, the breakdowns by API key,
contact, model, task and cache status, savings by optimization, the time series and the budgets'
state; `--html FILE` also writes the page with charts.
"""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Sequence
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any, TextIO, cast

import grpc
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.cli.report_html import ReportPage, dollars, percent, render
from tollgate.cli.tls_options import add_tls_arguments, channel, client_tls
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, gateway_pb2, gateway_pb2_grpc

BREAKDOWNS: tuple[tuple[str, int], ...] = (
    ("api_key", pb.USAGE_DIMENSION_API_KEY),
    ("contact", pb.USAGE_DIMENSION_CONTACT),
    ("model", pb.USAGE_DIMENSION_MODEL),
    ("task", pb.USAGE_DIMENSION_TASK),
    ("cache_status", pb.USAGE_DIMENSION_CACHE_STATUS),
)
TIME_BUCKETS: dict[str, int] = {
    "day": pb.USAGE_DIMENSION_DAY,
    "hour": pb.USAGE_DIMENSION_HOUR,
    "minute": pb.USAGE_DIMENSION_MINUTE,
}
RPC_TIMEOUT_SECONDS = 30.0


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "report",
        help="usage and savings of a tenant: tables, and an HTML page with charts",
        description=__doc__,
        formatter_class=argparse.RawDescriptionHelpFormatter,
    )
    source = parser.add_mutually_exclusive_group(required=True)
    source.add_argument("--gateway", metavar="HOST:PORT", help="the gateway (needs an admin key)")
    source.add_argument("--ledger", metavar="HOST:PORT", help="the budget ledger, directly")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TOLLGATE_API_KEY", ""),
        help="admin API key for --gateway (default: $TOLLGATE_API_KEY)",
    )
    add_tls_arguments(parser)
    parser.add_argument("--tenant", required=True, help="the tenant to report on")
    parser.add_argument(
        "--days", type=int, default=30, help="window ending now, in days (default 30)"
    )
    parser.add_argument(
        "--bucket",
        choices=["auto", *TIME_BUCKETS],
        default="auto",
        help="time series granularity; auto picks the coarsest that shows a trend",
    )
    parser.add_argument("--html", type=Path, metavar="FILE", help="also write the HTML page here")
    parser.set_defaults(handler=run)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    if args.days <= 0:
        print("--days must be positive", file=sys.stderr)
        return 2
    end = datetime.now(UTC)
    start = end - timedelta(days=args.days)
    if args.gateway and not args.api_key:
        print("--gateway needs an admin key: --api-key or $TOLLGATE_API_KEY", file=sys.stderr)
        return 2
    try:
        tls = client_tls(args)
        credentials = tls.credentials() if tls else None
    except ValueError as exc:
        print(f"no report: {exc}", file=sys.stderr)
        return 2
    try:
        with channel(args.gateway or args.ledger, credentials) as connection:
            stub: Any = (
                GatewayReportSource(connection, args.api_key)
                if args.gateway
                else budget_ledger_pb2_grpc.BudgetLedgerServiceStub(connection)
            )
            page, breakdowns = fetch(stub, args.tenant, start, end, args.bucket)
    except grpc.RpcError as error:
        call = cast(grpc.Call, error)
        print(f"no report: {call.code().name}: {call.details()}", file=sys.stderr)
        return 1
    print_tables(page, breakdowns, out)
    if args.html:
        args.html.write_text(render(page), encoding="utf-8")
        print(f"\nwrote {args.html}", file=out)
    return 0


class GatewayReportSource:
    """The two ledger calls a report needs, made through the gateway's admin API."""

    def __init__(self, channel: grpc.Channel, api_key: str) -> None:
        self._stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)

    def QueryUsage(self, request: pb.QueryUsageRequest, timeout: float) -> pb.QueryUsageResponse:
        query = gateway_pb2.GetUsageReportRequest(
            tenant_id=request.tenant_id, to=request.to, group_by=request.group_by
        )
        getattr(query, "from").CopyFrom(getattr(request, "from"))
        reply = self._stub.GetUsageReport(query, timeout=timeout, metadata=self._metadata)
        return pb.QueryUsageResponse(report=reply.report)

    def ListBudgetStates(
        self, request: pb.ListBudgetStatesRequest, timeout: float
    ) -> pb.ListBudgetStatesResponse:
        reply = self._stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id=request.tenant_id),
            timeout=timeout,
            metadata=self._metadata,
        )
        return pb.ListBudgetStatesResponse(states=reply.states)


def fetch(
    stub: Any,
    tenant: str,
    start: datetime,
    end: datetime,
    bucket: str,
) -> tuple[ReportPage, dict[str, list[pb.UsageRow]]]:
    def query(*dimensions: int) -> pb.UsageReport:
        request = pb.QueryUsageRequest(
            tenant_id=tenant, to=_stamp(end), group_by=cast(Any, list(dimensions))
        )
        getattr(request, "from").CopyFrom(_stamp(start))
        return stub.QueryUsage(request, timeout=RPC_TIMEOUT_SECONDS).report

    breakdowns = {name: list(query(dimension).rows) for name, dimension in BREAKDOWNS}
    overall = query()
    time_name, over_time = _time_series(query, bucket)
    states = stub.ListBudgetStates(
        pb.ListBudgetStatesRequest(tenant_id=tenant), timeout=RPC_TIMEOUT_SECONDS
    ).states
    page = ReportPage(
        tenant_id=tenant,
        window=f"{start:%Y-%m-%d %H:%M} to {end:%Y-%m-%d %H:%M} UTC",
        totals=overall.totals,
        time_dimension=time_name,
        over_time=over_time,
        by_cache_status=breakdowns["cache_status"],
        by_model=breakdowns["model"],
        by_api_key=breakdowns["api_key"],
        savings=list(overall.savings_by_optimization),
        budgets=list(states),
    )
    return page, breakdowns


def _time_series(query: Any, bucket: str) -> tuple[str, list[pb.UsageRow]]:
    if bucket != "auto":
        return bucket, list(query(TIME_BUCKETS[bucket]).rows)
    rows: list[pb.UsageRow] = []
    for name, dimension in TIME_BUCKETS.items():
        rows = list(query(dimension).rows)
        if len(rows) >= 3:
            return name, rows
    return "minute", rows


def print_tables(page: ReportPage, breakdowns: dict[str, list[pb.UsageRow]], out: TextIO) -> None:
    totals = page.totals
    print(f"Usage and savings of {page.tenant_id}, {page.window}", file=out)
    print(
        f"requests {totals.requests:,} · cost {dollars(totals.cost_micros)} · without Tollgate "
        f"{dollars(totals.baseline_cost_micros)} · saved {dollars(totals.saved_micros)} "
        f"({percent(totals.saved_micros, totals.baseline_cost_micros)})",
        file=out,
    )
    for name, rows in [*breakdowns.items(), (page.time_dimension, list(page.over_time))]:
        print(f"\nBy {name.replace('_', ' ')}", file=out)
        _table(
            [name, "requests", "input tok", "output tok", "cost", "saved"],
            [
                [
                    r.group.get(name, "") or "(none)",
                    f"{r.requests:,}",
                    f"{r.input_tokens:,}",
                    f"{r.output_tokens:,}",
                    dollars(r.cost_micros),
                    dollars(r.saved_micros),
                ]
                for r in rows
            ],
            out,
        )
    print("\nSavings by optimization", file=out)
    _table(
        ["optimization", "requests", "tokens saved", "saved", "shadow reqs", "would save"],
        [
            [
                s.optimization,
                f"{s.requests_applied:,}",
                f"{s.tokens_saved:,}",
                dollars(s.micros_saved),
                f"{s.shadow_requests:,}",
                dollars(s.shadow_micros_saved),
            ]
            for s in page.savings
        ],
        out,
    )
    print("\nBudgets (this period)", file=out)
    _table(
        ["scope", "period", "limit", "override", "spent", "held", "remaining", "used"],
        [
            [
                _scope_label(s.budget.scope),
                pb.BudgetPeriod.Name(s.budget.period).removeprefix("BUDGET_PERIOD_").lower(),
                dollars(s.budget.limit_micros),
                dollars(s.override_micros),
                dollars(s.spent_micros),
                dollars(s.held_micros),
                dollars(s.remaining_micros),
                percent(s.spent_micros + s.held_micros, s.budget.limit_micros + s.override_micros),
            ]
            for s in page.budgets
        ],
        out,
    )


def _scope_label(scope: pb.BudgetScope) -> str:
    kind = pb.ScopeKind.Name(scope.kind).removeprefix("SCOPE_KIND_").lower()
    return f"{kind} {scope.subject_id}".strip()


def _table(header: Sequence[str], rows: Sequence[Sequence[str]], out: TextIO) -> None:
    """A markdown table, columns padded so it also reads as plain text."""
    if not rows:
        print("(nothing in this window)", file=out)
        return
    widths = [max(len(str(c)) for c in column) for column in zip(header, *rows, strict=True)]

    def line(cells: Sequence[str]) -> str:
        padded = [
            str(c).ljust(w) if i == 0 else str(c).rjust(w)
            for i, (c, w) in enumerate(zip(cells, widths, strict=True))
        ]
        return "| " + " | ".join(padded) + " |"

    print(line(header), file=out)
    print(
        "|" + "|".join(("-" * (w + 1)) + (":" if i else "-") for i, w in enumerate(widths)) + "|",
        file=out,
    )
    for row in rows:
        print(line(row), file=out)


def _stamp(value: datetime) -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(value)
    return stamp
