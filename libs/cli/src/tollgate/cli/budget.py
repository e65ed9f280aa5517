"""`tollgate budget list|set|override`: budgets through the gateway's admin RPCs (GetBudgets,
SetBudget, CreateBudgetOverride), with an admin key. Money is given and shown in micro-dollars
(1 USD = 1,000,000)."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO

from tollgate.cli.gateway_admin import add_gateway_arguments, call_gateway
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import gateway_pb2

_SCOPES = {
    "tenant": pb.SCOPE_KIND_TENANT,
    "key": pb.SCOPE_KIND_API_KEY,
    "contact": pb.SCOPE_KIND_CONTACT,
}
_PERIODS = {
    "day": pb.BUDGET_PERIOD_DAY,
    "month": pb.BUDGET_PERIOD_MONTH,
    "total": pb.BUDGET_PERIOD_TOTAL,
}


def _scope(args: argparse.Namespace) -> pb.BudgetScope:
    subject = args.subject or ""
    if (args.scope == "tenant") != (not subject):
        raise ValueError("--subject names the key or contact of a key or contact scope, only")
    return pb.BudgetScope(kind=_SCOPES[args.scope], tenant_id=args.tenant, subject_id=subject)


def _states_table(states: Any, out: TextIO) -> None:
    print(f"{'scope':<28} {'period':<6} {'limit µ$':>14} {'spent µ$':>14} {'held µ$':>12} "
          f"{'remaining µ$':>14}", file=out)  # fmt: skip
    for state in states:
        scope = state.budget.scope
        kind = pb.ScopeKind.Name(scope.kind).removeprefix("SCOPE_KIND_").lower()
        period = pb.BudgetPeriod.Name(state.budget.period).removeprefix("BUDGET_PERIOD_").lower()
        label = f"{kind}:{scope.subject_id or scope.tenant_id}"
        print(f"{label:<28} {period:<6} {state.budget.limit_micros:>14,} "
              f"{state.spent_micros:>14,} {state.held_micros:>12,} {state.remaining_micros:>14,}",
              file=out)  # fmt: skip


def _call(stub: Any, args: argparse.Namespace, metadata: Any, out: TextIO) -> None:
    if args.action == "list":
        reply = stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id=args.tenant), metadata=metadata
        )
        _states_table(reply.states, out)
    elif args.action == "set":
        budget = pb.Budget(
            scope=_scope(args), period=_PERIODS[args.period], limit_micros=args.limit_micros
        )
        reply = stub.SetBudget(gateway_pb2.SetBudgetRequest(budget=budget), metadata=metadata)
        _states_table([reply.state], out)
    else:
        override = pb.BudgetOverride(
            scope=_scope(args), period=_PERIODS[args.period], extra_micros=args.extra_micros,
            reason=args.reason,
        )  # fmt: skip
        override.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=args.days))
        reply = stub.CreateBudgetOverride(
            gateway_pb2.CreateBudgetOverrideRequest(override=override), metadata=metadata
        )
        print(f"override {reply.override.id}: +{reply.override.extra_micros:,} µ$", file=out)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    def check() -> None:
        if args.action != "list":
            _scope(args)

    return call_gateway(
        args, "budget", lambda stub, metadata: _call(stub, args, metadata, out), check
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("budget", help="list, set or extend budgets (admin key)")
    add_gateway_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    listing = actions.add_parser("list", help="a tenant's budgets and what is left")
    listing.add_argument("--tenant", required=True)
    for name, what in (("set", "create or change a budget"), ("override", "grant extra money")):
        action = actions.add_parser(name, help=what)
        action.add_argument("--tenant", required=True)
        action.add_argument("--scope", choices=sorted(_SCOPES), default="tenant")
        action.add_argument("--subject", help="the API key id or contact id of that scope")
        action.add_argument("--period", choices=sorted(_PERIODS), default="month")
    actions.choices["set"].add_argument("--limit-micros", type=int, required=True)
    actions.choices["override"].add_argument("--extra-micros", type=int, required=True)
    actions.choices["override"].add_argument("--reason", required=True)
    actions.choices["override"].add_argument(
        "--days", type=float, default=7.0, help="how long the override lasts (default 7)"
    )
    parser.set_defaults(handler=run)
