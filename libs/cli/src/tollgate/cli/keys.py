"""`tollgate keys create|list|revoke|rotate`: managed API keys through the gateway's admin RPCs,
with an admin key (its own tenant) or an operator key (any tenant). The secret of a new or
rotated key is printed once, on its own line, and cannot be shown again."""

from __future__ import annotations

import argparse
import sys
from datetime import UTC, datetime, timedelta
from typing import Any, TextIO, cast

from tollgate.cli.gateway_admin import Metadata, add_gateway_arguments, call_gateway
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

_ROLES = {
    "app": pb.API_KEY_ROLE_APP,
    "admin": pb.API_KEY_ROLE_ADMIN,
    "operator": pb.API_KEY_ROLE_OPERATOR,
}
_PERIODS = {
    "day": pb.BUDGET_PERIOD_DAY,
    "month": pb.BUDGET_PERIOD_MONTH,
    "total": pb.BUDGET_PERIOD_TOTAL,
}


def _task(name: str) -> common_pb2.TaskType:
    try:
        return cast(common_pb2.TaskType, common_pb2.TaskType.Value(f"TASK_TYPE_{name.upper()}"))
    except ValueError:
        known = ", ".join(
            n.removeprefix("TASK_TYPE_").lower()
            for n, value in common_pb2.TaskType.items()
            if value != common_pb2.TASK_TYPE_UNSPECIFIED
        )
        raise ValueError(f"unknown task {name!r}; known tasks: {known}") from None


def _when(stamp: Any, present: bool) -> str:
    if not present:
        return "-"
    return str(stamp.ToDatetime(tzinfo=UTC).isoformat(timespec="seconds"))


def _table(keys: Any, out: TextIO) -> None:
    print(f"{'id':<28} {'name':<20} {'tenant':<14} {'role':<8} {'expires':<25} "
          f"{'revoked':<25} limits", file=out)  # fmt: skip
    for key in keys:
        role = pb.ApiKeyRole.Name(key.role).removeprefix("API_KEY_ROLE_").lower()
        limits = key.limits
        parts = [
            f"rpm={limits.requests_per_minute}" if limits.requests_per_minute else "",
            f"tpm={limits.tokens_per_minute}" if limits.tokens_per_minute else "",
            f"budget={limits.budget_micros:,}µ$" if limits.budget_micros else "",
            f"models={','.join(limits.allowed_models)}" if limits.allowed_models else "",
            "tasks=" + ",".join(
                common_pb2.TaskType.Name(t).removeprefix("TASK_TYPE_").lower()
                for t in limits.allowed_tasks
            ) if limits.allowed_tasks else "",
        ]  # fmt: skip
        print(f"{key.id:<28} {key.name:<20} {key.tenant_id:<14} {role:<8} "
              f"{_when(key.expires_at, key.HasField('expires_at')):<25} "
              f"{_when(key.revoked_at, key.HasField('revoked_at')):<25} "
              f"{' '.join(p for p in parts if p) or '-'}", file=out)  # fmt: skip


def _create_request(args: argparse.Namespace) -> gateway_pb2.CreateApiKeyRequest:
    limits = pb.ApiKeyLimits(
        requests_per_minute=args.rpm,
        tokens_per_minute=args.tpm,
        budget_micros=args.budget_micros,
        budget_period=_PERIODS[args.budget_period] if args.budget_micros else None,
        allowed_models=args.model or [],
        allowed_tasks=[_task(t) for t in args.task or []],
    )
    request = gateway_pb2.CreateApiKeyRequest(
        tenant_id=args.tenant or "", name=args.name, role=_ROLES[args.role], limits=limits
    )
    if args.expires_in_days is not None:
        if args.expires_in_days <= 0:
            raise ValueError("--expires-in-days must be above 0")
        request.expires_at.FromDatetime(datetime.now(UTC) + timedelta(days=args.expires_in_days))
    return request


def _call(
    stub: gateway_pb2_grpc.GatewayServiceStub,
    args: argparse.Namespace,
    metadata: Metadata,
    out: TextIO,
) -> None:
    tenant = args.tenant or ""
    if args.action == "create":
        created = stub.CreateApiKey(_create_request(args), metadata=metadata)
        _table([created.key], out)
        print(f"secret (shown once, store it now): {created.secret}", file=out)
    elif args.action == "list":
        listing = stub.ListApiKeys(
            gateway_pb2.ListApiKeysRequest(tenant_id=tenant, include_revoked=args.all),
            metadata=metadata,
        )
        _table(listing.keys, out)
    elif args.action == "revoke":
        revoked = stub.RevokeApiKey(
            gateway_pb2.RevokeApiKeyRequest(tenant_id=tenant, key_id=args.key_id),
            metadata=metadata,
        )
        _table([revoked.key], out)
    else:
        rotate = gateway_pb2.RotateApiKeyRequest(tenant_id=tenant, key_id=args.key_id)
        rotate.grace.FromTimedelta(timedelta(seconds=args.grace_seconds))
        rotated = stub.RotateApiKey(rotate, metadata=metadata)
        _table([rotated.key], out)
        print(f"secret (shown once, store it now): {rotated.secret}", file=out)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    def check() -> None:
        if args.action == "create":
            _create_request(args)
        if args.action == "rotate" and args.grace_seconds < 0:
            raise ValueError("--grace-seconds must not be negative")

    return call_gateway(
        args, "keys", lambda stub, metadata: _call(stub, args, metadata, out), check
    )


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser("keys", help="create, list, revoke or rotate API keys (admin)")
    add_gateway_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    create = actions.add_parser("create", help="a new key; its secret is printed once")
    create.add_argument("--name", required=True, help="unique among the tenant's live keys")
    create.add_argument("--role", choices=sorted(_ROLES), default="app")
    create.add_argument("--expires-in-days", type=float, help="default: never expires")
    create.add_argument("--rpm", type=int, default=0, help="requests per minute (0: no own limit)")
    create.add_argument("--tpm", type=int, default=0, help="tokens per minute (0: no own limit)")
    create.add_argument("--budget-micros", type=int, default=0, help="the key's own budget")
    create.add_argument("--budget-period", choices=sorted(_PERIODS), default="month")
    create.add_argument("--model", action="append", help="a model it may use (repeat)")
    create.add_argument("--task", action="append", help="a task it may run, e.g. chat (repeat)")
    listing = actions.add_parser("list", help="the tenant's keys (never their secrets)")
    listing.add_argument("--all", action="store_true", help="revoked keys too")
    revoke = actions.add_parser("revoke", help="refused on every gateway within seconds")
    revoke.add_argument("key_id")
    rotate = actions.add_parser("rotate", help="a new secret; the old one lasts the grace")
    rotate.add_argument("key_id")
    rotate.add_argument("--grace-seconds", type=float, default=0.0)
    for action in (create, listing, revoke, rotate):
        action.add_argument("--tenant", help="default: the admin key's own tenant")
    parser.set_defaults(handler=run)
