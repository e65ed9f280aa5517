"""Managed API keys: create, list, revoke, rotate, and the change feed gateways follow.

Only hashes of secrets are stored. Every change takes the next revision while holding the lock
on `api_key_revision`'s one row, so changes commit in revision order: a gateway that has read
every change up to revision N can never later meet a change numbered below N.
"""

from __future__ import annotations

import json
import secrets
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from datetime import datetime
from typing import TypeVar

import asyncpg

from tollgate.budget_ledger.alerts import RaisedAlerts
from tollgate.budget_ledger.api_key_validation import KeyChange, NewKey
from tollgate.budget_ledger.budgets import BudgetAdmin
from tollgate.budget_ledger.database import Database, fetch_one, in_transaction
from tollgate.budget_ledger.model import BudgetDefinition, Scope, ScopeKind
from tollgate.common.errors import (
    ServiceError,
    already_exists,
    failed_precondition,
    not_found,
    permission_denied,
)
from tollgate.v1 import budget_ledger_pb2 as pb

MAX_KEYS_LISTED = 1000

_KEY_COLUMNS = """
    id, tenant_id, name, role, secret_sha256, previous_secret_sha256, previous_valid_until,
    created_by, created_at, expires_at, revoked_at, rotated_at, requests_per_minute,
    tokens_per_minute, budget_micros, budget_period, allowed_models, allowed_tasks, revision
"""

_NEXT_REVISION = "UPDATE api_key_revision SET revision = revision + 1 RETURNING revision"

_INSERT = f"""
    INSERT INTO api_keys (id, tenant_id, name, role, secret_sha256, created_by, expires_at,
                          requests_per_minute, tokens_per_minute, budget_micros, budget_period,
                          allowed_models, allowed_tasks, revision)
    VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12, $13, $14)
    RETURNING {_KEY_COLUMNS}
"""

_LOCK = f"SELECT {_KEY_COLUMNS} FROM api_keys WHERE tenant_id = $1 AND id = $2 FOR UPDATE"

_REVOKE = f"""
    UPDATE api_keys SET revoked_at = now(), revision = $2 WHERE id = $1 RETURNING {_KEY_COLUMNS}
"""

_ROTATE = f"""
    UPDATE api_keys
    SET previous_secret_sha256 = secret_sha256, previous_valid_until = now() + $3::interval,
        secret_sha256 = $2, rotated_at = now(), revision = $4
    WHERE id = $1
    RETURNING {_KEY_COLUMNS}
"""

_LIST = f"""
    SELECT {_KEY_COLUMNS} FROM api_keys
    WHERE tenant_id = $1 AND ($2 OR revoked_at IS NULL)
    ORDER BY created_at, id
    LIMIT $3
"""

_CHANGES = f"""
    SELECT {_KEY_COLUMNS} FROM api_keys WHERE revision > $1 ORDER BY revision LIMIT $2
"""

_AUDIT = """
    INSERT INTO api_key_audit (tenant_id, key_id, action, actor, detail)
    VALUES ($1, $2, $3, $4, $5::jsonb)
"""

T = TypeVar("T")


@dataclass(frozen=True)
class Changes:
    changes: list[pb.ApiKeyChange]
    revision: int
    has_more: bool


def _stamp(target: object, field: str, value: datetime | None) -> None:
    if value is not None:
        getattr(target, field).FromDatetime(value)


def key_message(row: asyncpg.Record) -> pb.ManagedApiKey:
    key = pb.ManagedApiKey(
        id=row["id"],
        tenant_id=row["tenant_id"],
        name=row["name"],
        role=row["role"],
        revision=int(row["revision"]),
        created_by=row["created_by"],
        limits=pb.ApiKeyLimits(
            requests_per_minute=int(row["requests_per_minute"]),
            tokens_per_minute=int(row["tokens_per_minute"]),
            budget_micros=int(row["budget_micros"]),
            budget_period=row["budget_period"],
            allowed_models=list(row["allowed_models"]),
            allowed_tasks=list(row["allowed_tasks"]),
        ),
    )
    for field in ("created_at", "expires_at", "revoked_at", "rotated_at"):
        _stamp(key, field, row[field])
    return key


def change_message(row: asyncpg.Record) -> pb.ApiKeyChange:
    change = pb.ApiKeyChange(
        key=key_message(row),
        secret_sha256=row["secret_sha256"],
        previous_secret_sha256=row["previous_secret_sha256"] or "",
    )
    _stamp(change, "previous_valid_until", row["previous_valid_until"])
    return change


def _unique_violation(exc: asyncpg.UniqueViolationError, tenant: str, name: str) -> ServiceError:
    if exc.constraint_name == "api_keys_live_name":
        return already_exists(
            f"Tenant {tenant!r} already has a live key named {name!r}; pick another name or "
            "revoke that key first."
        )
    # The secret's hash is unique: two keys can never share a secret.
    return already_exists("A key with this secret already exists; make a new secret.")


class ApiKeyStore:
    def __init__(self, database: Database, budgets: BudgetAdmin) -> None:
        self._database = database
        self._budgets = budgets

    async def _in_transaction(self, work: Callable[[asyncpg.Connection], Awaitable[T]]) -> T:
        return await in_transaction(self._database.pool, work)

    async def create(self, new: NewKey) -> pb.ManagedApiKey:
        key_id = f"key_{secrets.token_hex(12)}"
        limits = new.limits

        async def work(conn: asyncpg.Connection) -> tuple[pb.ManagedApiKey, RaisedAlerts | None]:
            revision = await conn.fetchval(_NEXT_REVISION)
            try:
                # A savepoint, so that a duplicate name is refused with its own sentence.
                async with conn.transaction():
                    row = await fetch_one(
                        conn, _INSERT, key_id, new.tenant_id, new.name, new.role,
                        new.secret_sha256, new.actor, new.expires_at, limits.requests_per_minute,
                        limits.tokens_per_minute, limits.budget_micros,
                        int(limits.budget_period or 0), list(limits.allowed_models),
                        list(limits.allowed_tasks), revision,
                    )  # fmt: skip
            except asyncpg.UniqueViolationError as exc:
                raise _unique_violation(exc, new.tenant_id, new.name) from None
            raised = None
            if limits.budget_period is not None:
                budget = BudgetDefinition(
                    Scope(ScopeKind.API_KEY, new.tenant_id, key_id),
                    limits.budget_period,
                    limits.budget_micros,
                    0,
                    (50, 80, 100),
                )
                _, raised = await self._budgets.upsert_in(conn, budget, new.actor)
            detail = {"name": new.name, "role": new.role, "budget_micros": limits.budget_micros}
            await conn.execute(
                _AUDIT, new.tenant_id, key_id, "key_created", new.actor, json.dumps(detail)
            )
            return key_message(row), raised

        key, raised = await self._in_transaction(work)
        if raised is not None:
            self._budgets.remember(raised)
        return key

    async def _change(
        self,
        change: KeyChange,
        apply: Callable[[asyncpg.Connection, asyncpg.Record], Awaitable[asyncpg.Record | None]],
    ) -> pb.ManagedApiKey:
        """Lock the tenant's key, check the caller may change it, then `apply` (None: the
        change is already in force and nothing is written)."""

        async def work(conn: asyncpg.Connection) -> pb.ManagedApiKey:
            row = await conn.fetchrow(_LOCK, change.tenant_id, change.key_id)
            if row is None:
                # The same answer for another tenant's key as for no key: ids are not probed.
                raise not_found(
                    f"Tenant {change.tenant_id!r} has no managed key {change.key_id!r} (keys of "
                    "the keys file are changed in that file)."
                )
            if row["role"] == pb.API_KEY_ROLE_OPERATOR and not change.actor_is_operator:
                raise permission_denied("Only an operator key may change an operator key.")
            changed = await apply(conn, row)
            return key_message(changed if changed is not None else row)

        return await self._in_transaction(work)

    async def revoke(self, change: KeyChange) -> pb.ManagedApiKey:
        async def apply(conn: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record | None:
            if row["revoked_at"] is not None:
                return None
            revision = await conn.fetchval(_NEXT_REVISION)
            updated = await fetch_one(conn, _REVOKE, change.key_id, revision)
            await conn.execute(
                _AUDIT, change.tenant_id, change.key_id, "key_revoked", change.actor, "{}"
            )
            return updated

        return await self._change(change, apply)

    async def rotate(self, change: KeyChange) -> pb.ManagedApiKey:
        async def apply(conn: asyncpg.Connection, row: asyncpg.Record) -> asyncpg.Record | None:
            if row["revoked_at"] is not None:
                raise failed_precondition(
                    f"Key {change.key_id!r} is revoked; a revoked key cannot be rotated."
                )
            revision = await conn.fetchval(_NEXT_REVISION)
            try:
                async with conn.transaction():
                    updated = await fetch_one(
                        conn, _ROTATE, change.key_id, change.secret_sha256, change.grace, revision
                    )
            except asyncpg.UniqueViolationError as exc:
                raise _unique_violation(exc, change.tenant_id, row["name"]) from None
            detail = {"grace_seconds": change.grace.total_seconds()}
            await conn.execute(
                _AUDIT,
                change.tenant_id,
                change.key_id,
                "key_rotated",
                change.actor,
                json.dumps(detail),
            )
            return updated

        return await self._change(change, apply)

    async def list(self, tenant_id: str, include_revoked: bool) -> list[pb.ManagedApiKey]:
        async with self._database.pool.acquire() as conn:
            rows = await conn.fetch(_LIST, tenant_id, include_revoked, MAX_KEYS_LISTED)
        return [key_message(row) for row in rows]

    async def changes(self, since_revision: int, limit: int) -> Changes:
        async with self._database.pool.acquire() as conn:
            rows = await conn.fetch(_CHANGES, since_revision, limit + 1)
        page = rows[:limit]
        revision = int(page[-1]["revision"]) if page else since_revision
        return Changes([change_message(row) for row in page], revision, len(rows) > limit)
