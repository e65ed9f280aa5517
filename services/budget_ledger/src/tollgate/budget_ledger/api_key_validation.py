"""Checked values of the managed-key RPCs, or INVALID_ARGUMENT naming the field.

Everything is checked before the database is touched, so a refused call writes nothing.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timedelta

from tollgate.budget_ledger.model import Period
from tollgate.budget_ledger.validation import (
    MAX_MICROS,
    duration_seconds,
    identifier,
    non_negative,
    period,
    timestamp,
)
from tollgate.common.errors import invalid_argument
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2

# Far above any real per-minute figure, and well inside Redis' and Postgres' integers.
MAX_PER_MINUTE = 10**12
MAX_ALLOWED_ENTRIES = 64
# A rotation's old secret lives at most this long: a grace period, not a second key.
MAX_GRACE = timedelta(days=30)
MAX_CHANGES = 1000
_ROLES = {pb.API_KEY_ROLE_APP, pb.API_KEY_ROLE_ADMIN, pb.API_KEY_ROLE_OPERATOR}
_TASKS = set(common_pb2.TaskType.values()) - {common_pb2.TASK_TYPE_UNSPECIFIED}


@dataclass(frozen=True)
class KeyLimits:
    requests_per_minute: int
    tokens_per_minute: int
    budget_micros: int
    # None when the key has no budget of its own.
    budget_period: Period | None
    allowed_models: tuple[str, ...]
    allowed_tasks: tuple[int, ...]


@dataclass(frozen=True)
class NewKey:
    tenant_id: str
    name: str
    role: int
    expires_at: datetime | None
    limits: KeyLimits
    secret_sha256: str
    actor: str


@dataclass(frozen=True)
class KeyChange:
    """A revocation or rotation of one key of one tenant."""

    tenant_id: str
    key_id: str
    actor: str
    actor_is_operator: bool
    # Rotation only: the new secret's hash and how long the old one stays valid.
    secret_sha256: str = ""
    grace: timedelta = timedelta()


def secret_sha256(value: str, field: str = "secret_sha256") -> str:
    digest = value.lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise invalid_argument(f"{field} must be the 64 hex digits of a SHA-256.", field)
    return digest


def _entries(values: list[str], field: str) -> tuple[str, ...]:
    if len(values) > MAX_ALLOWED_ENTRIES:
        raise invalid_argument(f"{field} may list at most {MAX_ALLOWED_ENTRIES} entries.", field)
    return tuple(sorted({identifier(v, f"{field}[{i}]") for i, v in enumerate(values)}))


def limits(value: pb.ApiKeyLimits, field: str = "limits") -> KeyLimits:
    budget = non_negative(value.budget_micros, f"{field}.budget_micros", MAX_MICROS)
    budget_period: Period | None = None
    if budget:
        # A budget without a period is monthly, the period invoices use.
        raw = value.budget_period or pb.BUDGET_PERIOD_MONTH
        budget_period = period(raw, f"{field}.budget_period")
    elif value.budget_period:
        raise invalid_argument(
            f"{field}.budget_period is set but {field}.budget_micros is 0: give the budget too.",
            f"{field}.budget_period",
        )
    for index, task in enumerate(value.allowed_tasks):
        if task not in _TASKS:
            raise invalid_argument(
                f"{field}.allowed_tasks[{index}] must be a TaskType other than "
                f"TASK_TYPE_UNSPECIFIED (got {task}).",
                f"{field}.allowed_tasks",
            )
    return KeyLimits(
        requests_per_minute=non_negative(
            value.requests_per_minute, f"{field}.requests_per_minute", MAX_PER_MINUTE
        ),
        tokens_per_minute=non_negative(
            value.tokens_per_minute, f"{field}.tokens_per_minute", MAX_PER_MINUTE
        ),
        budget_micros=budget,
        budget_period=budget_period,
        allowed_models=_entries(list(value.allowed_models), f"{field}.allowed_models"),
        allowed_tasks=tuple(sorted(set(value.allowed_tasks))),
    )


def new_key(request: pb.StoreApiKeyRequest, now: datetime) -> NewKey:
    if request.role not in _ROLES:
        raise invalid_argument(
            "role must be API_KEY_ROLE_APP, API_KEY_ROLE_ADMIN or API_KEY_ROLE_OPERATOR "
            f"(got {request.role}).",
            "role",
        )
    expires_at = None
    if request.HasField("expires_at"):
        expires_at = timestamp(request.expires_at, "expires_at")
        if expires_at <= now:
            raise invalid_argument("expires_at must be in the future.", "expires_at")
    return NewKey(
        tenant_id=identifier(request.tenant_id, "tenant_id"),
        name=identifier(request.name, "name"),
        role=request.role,
        expires_at=expires_at,
        limits=limits(request.limits),
        secret_sha256=secret_sha256(request.secret_sha256),
        actor=identifier(request.actor, "actor"),
    )


def revocation(request: pb.RevokeStoredApiKeyRequest) -> KeyChange:
    return KeyChange(
        tenant_id=identifier(request.tenant_id, "tenant_id"),
        key_id=identifier(request.key_id, "key_id"),
        actor=identifier(request.actor, "actor"),
        actor_is_operator=request.actor_is_operator,
    )


def rotation(request: pb.RotateStoredApiKeyRequest) -> KeyChange:
    seconds = duration_seconds(request.grace, "grace") if request.HasField("grace") else 0.0
    if seconds < 0:
        raise invalid_argument("grace must not be negative.", "grace")
    grace = timedelta(seconds=seconds)
    if grace > MAX_GRACE:
        raise invalid_argument(f"grace may be at most {MAX_GRACE.days} days.", "grace")
    return KeyChange(
        tenant_id=identifier(request.tenant_id, "tenant_id"),
        key_id=identifier(request.key_id, "key_id"),
        actor=identifier(request.actor, "actor"),
        actor_is_operator=request.actor_is_operator,
        secret_sha256=secret_sha256(request.secret_sha256),
        grace=grace,
    )


def changes_limit(limit: int) -> int:
    return limit if 0 < limit <= MAX_CHANGES else MAX_CHANGES


def since_revision(value: int) -> int:
    if value < 0:
        raise invalid_argument(
            f"since_revision must not be negative (got {value}).", "since_revision"
        )
    return value
