"""Usage reports (any key, own tenant) and the admin calls (admin keys only): budgets, overrides,
alerts, effective flags and routing, cache invalidation.

Who may act on which tenant (docs/security.md has the table): every key on its own tenant; only
an operator key (role `operator` in the keys file) on another one. An empty tenant_id means the
caller's own tenant, for every role: no call reaches "all tenants" by leaving a field empty.
Every field is checked before the ledger or a cache is called.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from tollgate.common.auth import ApiKey
from tollgate.common.errors import (
    ServiceError,
    invalid_argument,
    permission_denied,
    unavailable,
)
from tollgate.gateway import dependencies
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.field_checks import (
    check_amount,
    check_enum,
    check_identifier,
    check_identifiers,
    check_time_range,
    check_timestamp,
)
from tollgate.gateway.flags import FlagsSource, decide
from tollgate.gateway.flags_config import FLAG_KEYS, FlagMode
from tollgate.gateway.pipeline import forward_error
from tollgate.gateway.routing import BackendRouter, Track
from tollgate.gateway.semantic_precision import tenant_precision
from tollgate.gateway.settings import Settings
from tollgate.v1 import (
    budget_ledger_pb2,
    cache_pb2,
    common_pb2,
    gateway_pb2,
    semantic_cache_pb2,
)


def require_admin(key: ApiKey) -> None:
    if not key.admin:
        raise permission_denied("This call needs an admin API key.")


def tenant_in_scope(key: ApiKey, requested: str, field: str = "tenant_id") -> str:
    """The tenant a call acts on: the caller's own unless an operator names another."""
    check_identifier(requested, field)
    tenant = requested or key.tenant
    if tenant != key.tenant and not key.operator:
        raise permission_denied(
            f"This key belongs to tenant {key.tenant!r} and may not act on another tenant; "
            "only operator keys may."
        )
    return tenant


def _scope_in_reach(key: ApiKey, scope: budget_ledger_pb2.BudgetScope, field: str) -> None:
    """A budget scope the caller may change: a known kind, its subject, a tenant in reach.
    An empty tenant is filled in with the caller's own."""
    check_enum(budget_ledger_pb2.ScopeKind, scope.kind, f"{field}.kind", required=True)
    scope.tenant_id = tenant_in_scope(key, scope.tenant_id, f"{field}.tenant_id")
    check_identifier(
        scope.subject_id,
        f"{field}.subject_id",
        required=scope.kind != budget_ledger_pb2.SCOPE_KIND_TENANT,
    )


def _check_budget(budget: budget_ledger_pb2.Budget) -> None:
    check_enum(budget_ledger_pb2.BudgetPeriod, budget.period, "budget.period", required=True)
    check_amount(budget.limit_micros, "budget.limit_micros")
    check_amount(budget.limit_tokens, "budget.limit_tokens")
    for index, percent in enumerate(budget.alert_thresholds_percent):
        if not 1 <= percent <= 1000:
            raise invalid_argument(
                f"budget.alert_thresholds_percent[{index}] must be between 1 and 1000; "
                f"got {percent}.",
                "budget.alert_thresholds_percent",
            )


class AdminCalls:
    def __init__(self, settings: Settings, flags: FlagsSource, router: BackendRouter) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router

    def _ledger(self, tenant: str) -> Track:
        return self._router.route("budget_ledger", self._flags.config, tenant, "")

    async def ledger_call(self, tenant: str, method: str, request: object) -> Any:
        """A ledger RPC on the tenant's track; its refusals pass on, its absence is UNAVAILABLE."""
        try:
            return await dependencies.call_by_name(
                self._ledger(tenant), method, request, self._settings.budget_ledger_timeout_seconds
            )
        except DependencyDown as exc:
            raise unavailable("The budget ledger is unavailable; try again shortly.") from exc
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "budget ledger") from exc

    async def usage_report(
        self, key: ApiKey, request: gateway_pb2.GetUsageReportRequest
    ) -> gateway_pb2.GetUsageReportResponse:
        tenant = tenant_in_scope(key, request.tenant_id)
        start = getattr(request, "from") if request.HasField("from") else None
        end = request.to if request.HasField("to") else None
        check_time_range(start, end)
        for index, dimension in enumerate(request.group_by):
            check_enum(budget_ledger_pb2.UsageDimension, dimension, f"group_by[{index}]")
        query = budget_ledger_pb2.QueryUsageRequest(tenant_id=tenant, group_by=request.group_by)
        if start is not None:
            getattr(query, "from").CopyFrom(start)
        if end is not None:
            query.to.CopyFrom(end)
        reply = await self.ledger_call(tenant, "QueryUsage", query)
        semantic = self._router.route("semantic_cache", self._flags.config, tenant, "")
        precision = await tenant_precision(
            semantic, tenant, self._settings.semantic_cache_timeout_seconds
        )
        return gateway_pb2.GetUsageReportResponse(report=reply.report, semantic_precision=precision)

    async def budgets(
        self, key: ApiKey, request: gateway_pb2.GetBudgetsRequest
    ) -> gateway_pb2.GetBudgetsResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        reply = await self.ledger_call(
            tenant, "ListBudgetStates", budget_ledger_pb2.ListBudgetStatesRequest(tenant_id=tenant)
        )
        return gateway_pb2.GetBudgetsResponse(states=reply.states)

    async def set_budget(
        self, key: ApiKey, request: gateway_pb2.SetBudgetRequest
    ) -> gateway_pb2.SetBudgetResponse:
        require_admin(key)
        upsert = budget_ledger_pb2.UpsertBudgetRequest(budget=request.budget, actor=key.id)
        _scope_in_reach(key, upsert.budget.scope, "budget.scope")
        _check_budget(upsert.budget)
        reply = await self.ledger_call(upsert.budget.scope.tenant_id, "UpsertBudget", upsert)
        return gateway_pb2.SetBudgetResponse(state=reply.state)

    async def create_override(
        self, key: ApiKey, request: gateway_pb2.CreateBudgetOverrideRequest
    ) -> gateway_pb2.CreateBudgetOverrideResponse:
        require_admin(key)
        override = budget_ledger_pb2.BudgetOverride()
        override.CopyFrom(request.override)
        override.actor = key.id
        _scope_in_reach(key, override.scope, "override.scope")
        check_enum(budget_ledger_pb2.BudgetPeriod, override.period, "override.period")
        check_amount(override.extra_micros, "override.extra_micros")
        if override.HasField("expires_at"):
            check_timestamp(override.expires_at, "override.expires_at")
        grant = budget_ledger_pb2.GrantOverrideRequest(override=override)
        reply = await self.ledger_call(override.scope.tenant_id, "GrantOverride", grant)
        return gateway_pb2.CreateBudgetOverrideResponse(override=reply.override)

    async def watch_alerts(
        self, key: ApiKey, request: gateway_pb2.WatchBudgetAlertsRequest
    ) -> AsyncIterator[gateway_pb2.WatchBudgetAlertsResponse]:
        require_admin(key)
        # An empty tenant_id used to reach the ledger as "every tenant's alerts".
        tenant = tenant_in_scope(key, request.tenant_id)
        track = self._ledger(tenant)
        call = track.stub.StreamAlerts(budget_ledger_pb2.StreamAlertsRequest(tenant_id=tenant))
        try:
            async for item in call:
                yield gateway_pb2.WatchBudgetAlertsResponse(alert=item.alert)
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "budget ledger") from exc
        finally:
            call.cancel()

    def effective_config(
        self, key: ApiKey, request: gateway_pb2.GetEffectiveConfigRequest
    ) -> gateway_pb2.GetEffectiveConfigResponse:
        require_admin(key)
        config = self._flags.config
        tenant, contact = tenant_in_scope(key, request.tenant_id), request.contact_id
        check_identifier(contact, "contact_id")
        reply = gateway_pb2.GetEffectiveConfigResponse(config_version=config.source_digest)
        for flag_key in FLAG_KEYS:
            flag = config.flag(flag_key)
            decision = decide(config, flag_key, tenant, contact)
            reply.flags.add(
                key=flag_key,
                enabled=flag.enabled,
                rollout_percent=flag.rollout_percent,
                mode=common_pb2.FLAG_MODE_SHADOW
                if flag.mode == FlagMode.SHADOW
                else common_pb2.FLAG_MODE_ENFORCE,
                active=decision.active,
                bucket=decision.bucket,
                parameters_json=json.dumps(flag.parameters, sort_keys=True),
            )
        for name, backend in self._router.backends.items():
            track = self._router.route(name, config, tenant, contact)
            reply.routes.add(
                service=name,
                track=track.name,
                address=track.address,
                canary_weight=config.canary_weight(name) if backend.canary else 0,
                canary_ready=backend.canary_ready,
                effective_canary_weight=self._router.effective_canary_weight(name, config),
            )
        return reply

    async def invalidate_cache(
        self, key: ApiKey, request: gateway_pb2.InvalidateCacheRequest
    ) -> gateway_pb2.InvalidateCacheResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        check_identifiers(request.tags, "tags")
        reply = gateway_pb2.InvalidateCacheResponse()
        cleared = await invalidate_tags(
            self._router, self._flags, self._settings, tenant, request.tags
        )
        if cleared.failures:
            exc = cleared.failures[0][1]
            if isinstance(exc, ServiceError):
                raise exc
            raise unavailable(
                f"Could not invalidate: {exc}. Nothing is reported removed that was not."
            ) from exc
        reply.exact_removed, reply.semantic_removed = cleared.exact, cleared.semantic
        return reply


@dataclass
class Invalidated:
    exact: int = 0
    semantic: int = 0
    # (cache, why) of each cache that could not be asked or refused.
    failures: list[tuple[str, Exception]] = field(default_factory=list)


async def invalidate_tags(
    router: BackendRouter,
    flags: FlagsSource,
    settings: Settings,
    tenant: str,
    tags: Sequence[str],
) -> Invalidated:
    """Drop the tenant's cached answers with these tags (all of them when empty) from both
    caches; each cache is asked even when the other failed."""
    result = Invalidated()
    config = flags.config
    exact = router.route("cache", config, tenant, "")
    semantic = router.route("semantic_cache", config, tenant, "")
    try:
        exact_reply = await dependencies.call_by_name(
            exact,
            "ExactInvalidate",
            cache_pb2.ExactInvalidateRequest(tenant_id=tenant, tags=tags),
            settings.cache_timeout_seconds * 20,
        )
        result.exact = exact_reply.removed
    except (DependencyDown, grpc.aio.AioRpcError) as exc:
        result.failures.append(("exact_cache", _cache_failure(exc)))
    try:
        semantic_reply = await dependencies.call_by_name(
            semantic,
            "SemanticInvalidate",
            semantic_cache_pb2.SemanticInvalidateRequest(tenant_id=tenant, tags=tags),
            settings.semantic_cache_timeout_seconds * 4,
        )
        result.semantic = semantic_reply.removed
    except (DependencyDown, grpc.aio.AioRpcError) as exc:
        result.failures.append(("semantic_cache", _cache_failure(exc)))
    return result


def _cache_failure(exc: DependencyDown | grpc.aio.AioRpcError) -> Exception:
    return forward_error(exc, "cache") if isinstance(exc, grpc.aio.AioRpcError) else exc
