"""Agent profiles in the ledger's Postgres, and the AgentProfileService that serves them.

The ledger's Postgres is the suite's one durable, backed-up store, so profiles (few, small,
rarely changed, and read through the gateway's short in-memory cache) live here rather than in
a new database. Every query names the tenant: a profile is found only under the tenant that
stored it. Input is checked with the rules every service shares (tollgate.common.agent_profiles)
before anything is written.
"""

from __future__ import annotations

from typing import cast

import asyncpg
import grpc

from tollgate.budget_ledger import validation
from tollgate.budget_ledger.database import Database, fetch_one, in_transaction
from tollgate.common.agent_profiles import check_agent_id, check_profile
from tollgate.common.errors import not_found, resource_exhausted
from tollgate.common.interceptors import annotate
from tollgate.v1 import agent_profiles_pb2 as pb
from tollgate.v1 import agent_profiles_pb2_grpc, common_pb2

MAX_PROFILES_PER_TENANT = 10_000

_COLUMNS = "agent_id, role, experience, specializations"

_UPSERT = f"""
    INSERT INTO agent_profiles (tenant_id, agent_id, role, experience, specializations, updated_by)
    VALUES ($1, $2, $3, $4, $5, $6)
    ON CONFLICT (tenant_id, agent_id) DO UPDATE
      SET role = EXCLUDED.role, experience = EXCLUDED.experience,
          specializations = EXCLUDED.specializations, updated_by = EXCLUDED.updated_by,
          updated_at = now()
    RETURNING {_COLUMNS}, (xmax = 0) AS created
"""


def _profile(row: asyncpg.Record) -> common_pb2.AgentProfile:
    return common_pb2.AgentProfile(
        agent_id=row["agent_id"],
        role=cast(common_pb2.AgentRole, row["role"]),
        experience=cast(common_pb2.AgentExperience, row["experience"]),
        specializations=list(row["specializations"]),
    )


class AgentProfileStore:
    def __init__(self, database: Database) -> None:
        self._database = database

    async def put(
        self, tenant: str, profile: common_pb2.AgentProfile, actor: str
    ) -> tuple[common_pb2.AgentProfile, bool]:
        async def work(conn: asyncpg.Connection) -> asyncpg.Record:
            # One writer per tenant at a time, so the count below cannot be raced past.
            await conn.execute(
                "SELECT pg_advisory_xact_lock(hashtext('agent_profiles:' || $1))", tenant
            )
            count = await conn.fetchval(
                "SELECT count(*) FROM agent_profiles WHERE tenant_id = $1 AND agent_id <> $2",
                tenant,
                profile.agent_id,
            )
            if count >= MAX_PROFILES_PER_TENANT:
                raise resource_exhausted(
                    f"Tenant {tenant!r} already has {MAX_PROFILES_PER_TENANT:,} agent profiles; "
                    "delete one before adding another."
                )
            return await fetch_one(
                conn,
                _UPSERT,
                tenant,
                profile.agent_id,
                profile.role,
                profile.experience,
                list(profile.specializations),
                actor,
            )

        row = await in_transaction(self._database.pool, work)
        return _profile(row), bool(row["created"])

    async def get(self, tenant: str, agent_id: str) -> common_pb2.AgentProfile | None:
        async def work(conn: asyncpg.Connection) -> asyncpg.Record | None:
            return await conn.fetchrow(
                f"SELECT {_COLUMNS} FROM agent_profiles WHERE tenant_id = $1 AND agent_id = $2",
                tenant,
                agent_id,
            )

        row = await in_transaction(self._database.pool, work)
        return None if row is None else _profile(row)

    async def list(self, tenant: str) -> list[common_pb2.AgentProfile]:
        async def work(conn: asyncpg.Connection) -> list[asyncpg.Record]:
            return await conn.fetch(
                f"SELECT {_COLUMNS} FROM agent_profiles WHERE tenant_id = $1 ORDER BY agent_id",
                tenant,
            )

        return [_profile(row) for row in await in_transaction(self._database.pool, work)]

    async def delete(self, tenant: str, agent_id: str) -> bool:
        async def work(conn: asyncpg.Connection) -> str:
            return str(
                await conn.execute(
                    "DELETE FROM agent_profiles WHERE tenant_id = $1 AND agent_id = $2",
                    tenant,
                    agent_id,
                )
            )

        return await in_transaction(self._database.pool, work) == "DELETE 1"


class AgentProfileServicer(agent_profiles_pb2_grpc.AgentProfileServiceServicer):
    """Validates, delegates to the store, converts. Served by the ledger process."""

    def __init__(self, store: AgentProfileStore) -> None:
        self._store = store

    @staticmethod
    def _tenant(value: str) -> str:
        tenant = validation.identifier(value, "tenant_id")
        annotate(tenant=tenant)
        return tenant

    async def UpsertAgentProfile(
        self, request: pb.UpsertAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.UpsertAgentProfileResponse:
        tenant = self._tenant(request.tenant_id)
        check_profile(request.profile)
        actor = validation.text(request.actor, "actor")
        profile, created = await self._store.put(tenant, request.profile, actor)
        return pb.UpsertAgentProfileResponse(profile=profile, created=created)

    async def LookupAgentProfile(
        self, request: pb.LookupAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.LookupAgentProfileResponse:
        tenant = self._tenant(request.tenant_id)
        agent_id = check_agent_id(request.agent_id, "agent_id")
        profile = await self._store.get(tenant, agent_id)
        if profile is None:
            raise not_found(f"Tenant {tenant!r} has no agent {agent_id!r}.")
        return pb.LookupAgentProfileResponse(profile=profile)

    async def ListStoredAgentProfiles(
        self, request: pb.ListStoredAgentProfilesRequest, context: grpc.aio.ServicerContext
    ) -> pb.ListStoredAgentProfilesResponse:
        tenant = self._tenant(request.tenant_id)
        return pb.ListStoredAgentProfilesResponse(profiles=await self._store.list(tenant))

    async def RemoveAgentProfile(
        self, request: pb.RemoveAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> pb.RemoveAgentProfileResponse:
        tenant = self._tenant(request.tenant_id)
        agent_id = check_agent_id(request.agent_id, "agent_id")
        return pb.RemoveAgentProfileResponse(deleted=await self._store.delete(tenant, agent_id))
