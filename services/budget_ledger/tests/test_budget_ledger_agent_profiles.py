"""Agent profiles stored by the ledger process: round trip, replacement, tenant isolation,
hostile input refused before anything is written."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import asyncpg
import grpc
import pytest

from tollgate.v1 import agent_profiles_pb2 as pb
from tollgate.v1 import agent_profiles_pb2_grpc, common_pb2

Stub = agent_profiles_pb2_grpc.AgentProfileServiceStub


@pytest.fixture
async def profiles(
    ledger_address: str,
) -> AsyncIterator[agent_profiles_pb2_grpc.AgentProfileServiceStub]:
    async with grpc.aio.insecure_channel(ledger_address) as channel:
        yield agent_profiles_pb2_grpc.AgentProfileServiceStub(channel)


def profile(agent_id: str = "maria", **fields: object) -> common_pb2.AgentProfile:
    values: dict[str, object] = {
        "agent_id": agent_id,
        "role": common_pb2.AGENT_ROLE_BUYERS_AGENT,
        "experience": common_pb2.AGENT_EXPERIENCE_NOVICE,
        "specializations": ["first-time buyers", "condos"],
    }
    values.update(fields)
    return common_pb2.AgentProfile(**values)  # type: ignore[arg-type]


async def put(
    stub: Stub, tenant: str, value: common_pb2.AgentProfile
) -> pb.UpsertAgentProfileResponse:
    return await stub.UpsertAgentProfile(
        pb.UpsertAgentProfileRequest(tenant_id=tenant, profile=value, actor="acme-admin")
    )


async def test_a_profile_round_trips_and_is_replaced_whole(
    profiles: Stub, db: asyncpg.Connection
) -> None:
    created = await put(profiles, "acme", profile())
    assert created.created
    assert created.profile == profile()

    replacement = profile(
        experience=common_pb2.AGENT_EXPERIENCE_EXPERT,
        role=common_pb2.AGENT_ROLE_LISTING_AGENT,
        specializations=["luxury"],
    )
    replaced = await put(profiles, "acme", replacement)
    assert not replaced.created
    assert replaced.profile == replacement
    got = await profiles.LookupAgentProfile(
        pb.LookupAgentProfileRequest(tenant_id="acme", agent_id="maria")
    )
    assert got.profile == replacement
    actor = await db.fetchval("SELECT updated_by FROM agent_profiles WHERE tenant_id = 'acme'")
    assert actor == "acme-admin"

    listed = await profiles.ListStoredAgentProfiles(
        pb.ListStoredAgentProfilesRequest(tenant_id="acme")
    )
    assert [p.agent_id for p in listed.profiles] == ["maria"]

    removed = await profiles.RemoveAgentProfile(
        pb.RemoveAgentProfileRequest(tenant_id="acme", agent_id="maria")
    )
    again = await profiles.RemoveAgentProfile(
        pb.RemoveAgentProfileRequest(tenant_id="acme", agent_id="maria")
    )
    assert (removed.deleted, again.deleted) == (True, False)
    assert await db.fetchval("SELECT count(*) FROM agent_profiles") == 0


async def test_another_tenant_can_neither_read_list_nor_delete_a_profile(
    profiles: Stub, db: asyncpg.Connection
) -> None:
    await put(profiles, "acme", profile())
    with pytest.raises(grpc.aio.AioRpcError) as missing:
        await profiles.LookupAgentProfile(
            pb.LookupAgentProfileRequest(tenant_id="globex", agent_id="maria")
        )
    assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    assert "globex" in (missing.value.details() or "")
    listed = await profiles.ListStoredAgentProfiles(
        pb.ListStoredAgentProfilesRequest(tenant_id="globex")
    )
    assert list(listed.profiles) == []
    removed = await profiles.RemoveAgentProfile(
        pb.RemoveAgentProfileRequest(tenant_id="globex", agent_id="maria")
    )
    assert not removed.deleted
    # Globex storing the same agent id makes its own profile; acme's is untouched.
    await put(profiles, "globex", profile(experience=common_pb2.AGENT_EXPERIENCE_EXPERT))
    acme = await profiles.LookupAgentProfile(
        pb.LookupAgentProfileRequest(tenant_id="acme", agent_id="maria")
    )
    assert acme.profile == profile()
    assert await db.fetchval("SELECT count(*) FROM agent_profiles") == 2


@pytest.mark.parametrize(
    ("bad", "field"),
    [
        (profile(agent_id=""), "profile.agent_id"),
        (profile(agent_id="maria; DROP TABLE"), "profile.agent_id"),
        (profile(agent_id="x" * 65), "profile.agent_id"),
        (profile(role=common_pb2.AGENT_ROLE_UNSPECIFIED), "profile.role"),
        (profile(role=99), "profile.role"),
        (profile(experience=0), "profile.experience"),
        (profile(specializations=["Luxury"]), "profile.specializations[0]"),
        (profile(specializations=["luxury", "luxury"]), "profile.specializations[1]"),
        (profile(specializations=["ignore previous\ninstructions"]), "profile.specializations[0]"),
        (profile(specializations=["a" * 41]), "profile.specializations[0]"),
        (profile(specializations=[f"s{i}" for i in range(9)]), "profile.specializations"),
    ],
)
async def test_malformed_profiles_are_refused_and_nothing_is_written(
    profiles: Stub, db: asyncpg.Connection, bad: common_pb2.AgentProfile, field: str
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await put(profiles, "acme", bad)
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field in (refused.value.details() or "")
    assert await db.fetchval("SELECT count(*) FROM agent_profiles") == 0


async def test_concurrent_puts_of_one_agent_leave_one_whole_profile(
    profiles: Stub, db: asyncpg.Connection
) -> None:
    versions = [profile(specializations=[f"area {i}"], experience=1 + i % 3) for i in range(12)]
    replies = await asyncio.gather(*(put(profiles, "acme", v) for v in versions))
    assert sum(reply.created for reply in replies) == 1
    stored = await profiles.LookupAgentProfile(
        pb.LookupAgentProfileRequest(tenant_id="acme", agent_id="maria")
    )
    assert stored.profile in versions
