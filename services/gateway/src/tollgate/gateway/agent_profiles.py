"""Agent profiles at the gateway: the admin calls (Put/Get/List/DeleteAgentProfile) and the
lookup of a request's `agent_id`, with a short in-memory cache.

Profiles are stored by the budget-ledger process (AgentProfileService, the suite's Postgres).
Who may do what: put and delete need an admin key (operators: any tenant); get and list are open
to every key of the tenant, because an application must be able to check which agent ids it may
send, and a profile holds no secret. No key reaches another tenant's profiles without being an
operator, and a request's agent_id is always looked up under the caller's own tenant.

A found profile is kept for `agent_profile_cache_seconds` (a put or delete through this replica
drops it at once; other replicas see the change within that time). An unknown agent is never
cached, so a profile stored a moment ago is found. What an unknown agent_id means is the
gateway's `unknown_agent` setting: `reject` (INVALID_ARGUMENT) or `default` (the tenant's profile
stored under the agent id `default`; INVALID_ARGUMENT when the tenant has none either).
"""

from __future__ import annotations

import time
from typing import Any

import grpc

from tollgate.common.agent_profiles import (
    DEFAULT_AGENT_ID,
    check_agent_id,
    check_profile,
)
from tollgate.common.auth import ApiKey
from tollgate.common.errors import ServiceError, invalid_argument, unavailable
from tollgate.common.lru import LruCache
from tollgate.gateway import dependencies
from tollgate.gateway.admin import require_admin, tenant_in_scope
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import FlagsSource
from tollgate.gateway.pipeline import forward_error
from tollgate.gateway.routing import BackendRouter
from tollgate.gateway.settings import Settings
from tollgate.v1 import agent_profiles_pb2, agent_profiles_pb2_grpc, common_pb2, gateway_pb2

_CACHE_CAPACITY = 10_000


class AgentProfiles:
    def __init__(self, settings: Settings, flags: FlagsSource, router: BackendRouter) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router
        # (tenant, agent id) → (profile, when it was read)
        self._cache: LruCache[tuple[str, str], tuple[common_pb2.AgentProfile, float]] = LruCache(
            _CACHE_CAPACITY
        )

    async def _call(self, tenant: str, method: str, request: Any) -> Any:
        track = self._router.route("budget_ledger", self._flags.config, tenant, "")
        stub = agent_profiles_pb2_grpc.AgentProfileServiceStub(track.channel)
        try:
            return await dependencies.call(
                track,
                method,
                getattr(stub, method),
                request,
                self._settings.budget_ledger_timeout_seconds,
            )
        except DependencyDown as exc:
            raise unavailable(
                "The agent profile store (budget ledger) is unavailable; try again shortly."
            ) from exc
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "agent profile store") from exc

    # The request path.

    async def resolve(self, tenant: str, agent_id: str) -> common_pb2.AgentProfile | None:
        """The profile a request's agent_id names under the caller's tenant; None when the
        request names no agent."""
        if not agent_id:
            return None
        found = await self._find(tenant, agent_id)
        if found is None and self._settings.unknown_agent == "default":
            found = await self._find(tenant, DEFAULT_AGENT_ID)
        if found is None:
            fallback = (
                f" and has no {DEFAULT_AGENT_ID!r} profile to fall back to"
                if self._settings.unknown_agent == "default"
                else ""
            )
            raise invalid_argument(
                f"This tenant has no agent {agent_id!r}{fallback}: store the agent's profile "
                "first (PutAgentProfile, or `tollgate agents put`), or send no agent_id.",
                "completion.agent_id",
            )
        return found

    async def _find(self, tenant: str, agent_id: str) -> common_pb2.AgentProfile | None:
        cached = self._cache.get((tenant, agent_id))
        now = time.monotonic()
        if cached is not None and now - cached[1] < self._settings.agent_profile_cache_seconds:
            return cached[0]
        try:
            reply = await self._call(
                tenant,
                "LookupAgentProfile",
                agent_profiles_pb2.LookupAgentProfileRequest(tenant_id=tenant, agent_id=agent_id),
            )
        except ServiceError as error:
            if error.code == grpc.StatusCode.NOT_FOUND:
                return None
            raise
        self._cache.put((tenant, agent_id), (reply.profile, now))
        return reply.profile

    def _forget(self, tenant: str, agent_id: str) -> None:
        self._cache.put((tenant, agent_id), (common_pb2.AgentProfile(), float("-inf")))

    # The admin calls.

    async def put(
        self, key: ApiKey, request: gateway_pb2.PutAgentProfileRequest
    ) -> gateway_pb2.PutAgentProfileResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        check_profile(request.profile)
        reply = await self._call(
            tenant,
            "UpsertAgentProfile",
            agent_profiles_pb2.UpsertAgentProfileRequest(
                tenant_id=tenant, profile=request.profile, actor=key.id
            ),
        )
        self._forget(tenant, request.profile.agent_id)
        return gateway_pb2.PutAgentProfileResponse(profile=reply.profile, created=reply.created)

    async def get(
        self, key: ApiKey, request: gateway_pb2.GetAgentProfileRequest
    ) -> gateway_pb2.GetAgentProfileResponse:
        tenant = tenant_in_scope(key, request.tenant_id)
        agent_id = check_agent_id(request.agent_id, "agent_id")
        reply = await self._call(
            tenant,
            "LookupAgentProfile",
            agent_profiles_pb2.LookupAgentProfileRequest(tenant_id=tenant, agent_id=agent_id),
        )
        return gateway_pb2.GetAgentProfileResponse(profile=reply.profile)

    async def list(
        self, key: ApiKey, request: gateway_pb2.ListAgentProfilesRequest
    ) -> gateway_pb2.ListAgentProfilesResponse:
        tenant = tenant_in_scope(key, request.tenant_id)
        reply = await self._call(
            tenant,
            "ListStoredAgentProfiles",
            agent_profiles_pb2.ListStoredAgentProfilesRequest(tenant_id=tenant),
        )
        return gateway_pb2.ListAgentProfilesResponse(profiles=reply.profiles)

    async def delete(
        self, key: ApiKey, request: gateway_pb2.DeleteAgentProfileRequest
    ) -> gateway_pb2.DeleteAgentProfileResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        agent_id = check_agent_id(request.agent_id, "agent_id")
        reply = await self._call(
            tenant,
            "RemoveAgentProfile",
            agent_profiles_pb2.RemoveAgentProfileRequest(tenant_id=tenant, agent_id=agent_id),
        )
        self._forget(tenant, agent_id)
        return gateway_pb2.DeleteAgentProfileResponse(deleted=reply.deleted)
