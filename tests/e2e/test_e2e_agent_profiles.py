"""Agent profiles end to end, over the HTTP door against the emulator: the profile block is the
only difference between two agents' requests, every agent of a tenant reads the same cached
prefix, and no tenant can use or read another tenant's agent."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
import httpx
import pytest

from tests.conftest import ADMIN_KEY, API_KEY, OTHER_TENANT_KEY, TENANT_ADMIN_KEY, FullSuite
from tollgate.client import TollgateClient
from tollgate.common.agent_profiles import render_profile
from tollgate.v1 import common_pb2, gateway_pb2

PLAYBOOK = (
    "You are the assistant of Harbor Realty's agents. Quote only listed prices, never promise "
    "an appraisal value, and always suggest a viewing within three working days. "
) * 60

MARIA = common_pb2.AgentProfile(
    agent_id="maria",
    role=common_pb2.AGENT_ROLE_BUYERS_AGENT,
    experience=common_pb2.AGENT_EXPERIENCE_NOVICE,
    specializations=["first-time buyers"],
)
TOM = common_pb2.AgentProfile(
    agent_id="tom",
    role=common_pb2.AGENT_ROLE_LISTING_AGENT,
    experience=common_pb2.AGENT_EXPERIENCE_EXPERT,
    specializations=["luxury", "investors"],
)
SAM = common_pb2.AgentProfile(
    agent_id="sam",
    role=common_pb2.AGENT_ROLE_TRANSACTION_COORDINATOR,
    experience=common_pb2.AGENT_EXPERIENCE_EXPERIENCED,
)


def ask(question: str = "Should my client waive the inspection contingency?") -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 200,
        "temperature": 0,
        "system": PLAYBOOK,
        "messages": [{"role": "user", "content": question}],
    }


async def put(client: TollgateClient, profile: common_pb2.AgentProfile, tenant: str = "") -> Any:
    return await client.stub.PutAgentProfile(
        gateway_pb2.PutAgentProfileRequest(tenant_id=tenant, profile=profile),
        metadata=client.metadata,
    )


async def post(base_url: str, key: str, agent: str, body: dict[str, Any]) -> httpx.Response:
    async with httpx.AsyncClient(base_url=base_url, timeout=30) as http:
        return await http.post(
            "/v1/messages",
            json=body,
            headers={"x-api-key": key, "x-tollgate-agent": agent, "x-tollgate-task": "chat"},
        )


def sent_bodies(suite: FullSuite) -> list[dict[str, Any]]:
    return [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"]


async def test_two_agents_differ_only_in_the_profile_block_and_read_the_same_cached_prefix(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    async with suite.client(TENANT_ADMIN_KEY) as admin:
        for profile in (MARIA, TOM, SAM):
            assert (await put(admin, profile)).created

    replies = []
    for agent in ("maria", "tom", "sam"):
        reply = await post(base_url, API_KEY, agent, ask())
        assert reply.status_code == 200, reply.text
        # The same question for another agent is never the first agent's cached answer.
        assert reply.headers["x-tollgate-cache"] == "miss"
        replies.append(reply.json()["usage"])
        await suite.settled()

    bodies = sent_bodies(suite)
    assert len(bodies) == 3
    systems = [[block["text"] for block in body["system"]] for body in bodies]
    # The caller's playbook, then the profile: the playbook is identical, the profiles differ.
    assert all(len(system) == 2 for system in systems)
    assert systems[0][0] == systems[1][0] == systems[2][0]
    assert len({system[1] for system in systems}) == 3
    assert "novice" in systems[0][1]
    assert "expert" in systems[1][1]
    for body in bodies[1:]:
        assert body["messages"] == bodies[0]["messages"]
        rest = {k: v for k, v in body.items() if k != "system"}
        assert rest == {k: v for k, v in bodies[0].items() if k != "system"}
    # The breakpoint ends the shared playbook, before the profile.
    assert "cache_control" in bodies[0]["system"][0]

    maria, tom, sam = replies
    print("\nagent   cache read   cache write   input")
    for name, usage in zip(("maria", "tom", "sam"), replies, strict=True):
        print(
            f"{name:<7} {usage['cache_read_input_tokens']:>10,} "
            f"{usage['cache_creation_input_tokens']:>13,} {usage['input_tokens']:>7,}"
        )
    shared = tom["cache_read_input_tokens"]
    assert shared > 1024
    assert sam["cache_read_input_tokens"] == shared
    assert maria["cache_read_input_tokens"] == 0
    assert maria["cache_creation_input_tokens"] > shared

    # Maria's next question reads everything her first call wrote, her profile included.
    again = await post(base_url, API_KEY, "maria", ask("And the appraisal contingency?"))
    assert again.status_code == 200, again.text
    assert again.json()["usage"]["cache_read_input_tokens"] == maria["cache_creation_input_tokens"]


async def test_another_tenant_can_neither_use_nor_read_an_agent(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    async with suite.client(TENANT_ADMIN_KEY) as acme_admin:
        await put(acme_admin, MARIA)

    calls = suite.upstream_calls()
    refused = await post(base_url, OTHER_TENANT_KEY, "maria", ask())
    assert refused.status_code == 400, refused.text
    error = refused.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert "no agent 'maria'" in error["message"]
    assert suite.upstream_calls() == calls

    async with suite.client(OTHER_TENANT_KEY) as globex:
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await globex.stub.GetAgentProfile(
                gateway_pb2.GetAgentProfileRequest(agent_id="maria"), metadata=globex.metadata
            )
        assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
        with pytest.raises(grpc.aio.AioRpcError) as across:
            await globex.stub.GetAgentProfile(
                gateway_pb2.GetAgentProfileRequest(tenant_id="acme", agent_id="maria"),
                metadata=globex.metadata,
            )
        assert across.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as list_across:
            await globex.stub.ListAgentProfiles(
                gateway_pb2.ListAgentProfilesRequest(tenant_id="acme"), metadata=globex.metadata
            )
        assert list_across.value.code() == grpc.StatusCode.PERMISSION_DENIED
        own = await globex.stub.ListAgentProfiles(
            gateway_pb2.ListAgentProfilesRequest(), metadata=globex.metadata
        )
        assert list(own.profiles) == []
        # An application key may read its own tenant's profiles but never write one.
        with pytest.raises(grpc.aio.AioRpcError) as write:
            await put(globex, TOM)
        assert write.value.code() == grpc.StatusCode.PERMISSION_DENIED

    async with suite.client(TENANT_ADMIN_KEY) as acme_admin:
        # A tenant admin reaches only its own tenant.
        with pytest.raises(grpc.aio.AioRpcError) as other_tenant:
            await put(acme_admin, MARIA, tenant="globex")
        assert other_tenant.value.code() == grpc.StatusCode.PERMISSION_DENIED
        with pytest.raises(grpc.aio.AioRpcError) as delete_across:
            await acme_admin.stub.DeleteAgentProfile(
                gateway_pb2.DeleteAgentProfileRequest(tenant_id="globex", agent_id="maria"),
                metadata=acme_admin.metadata,
            )
        assert delete_across.value.code() == grpc.StatusCode.PERMISSION_DENIED

    # An operator stores globex's own "maria": globex's requests get globex's profile, acme's
    # keep acme's.
    async with suite.client(ADMIN_KEY) as operator:
        globex_maria = common_pb2.AgentProfile()
        globex_maria.CopyFrom(MARIA)
        globex_maria.experience = common_pb2.AGENT_EXPERIENCE_EXPERT
        await put(operator, globex_maria, tenant="globex")
        read = await operator.stub.GetAgentProfile(
            gateway_pb2.GetAgentProfileRequest(tenant_id="acme", agent_id="maria"),
            metadata=operator.metadata,
        )
        assert read.profile == MARIA
    assert (await post(base_url, OTHER_TENANT_KEY, "maria", ask())).status_code == 200
    assert (await post(base_url, API_KEY, "maria", ask())).status_code == 200
    globex_body, acme_body = sent_bodies(suite)[-2:]
    assert "expert" in globex_body["system"][-1]["text"]
    assert "novice" in acme_body["system"][-1]["text"]


async def test_a_deleted_agent_is_refused_at_once_and_bad_profiles_are_refused(
    door: tuple[FullSuite, str],
) -> None:
    suite, base_url = door
    async with suite.client(TENANT_ADMIN_KEY) as admin:
        await put(admin, TOM)
        assert (await post(base_url, API_KEY, "tom", ask())).status_code == 200
        deleted = await admin.stub.DeleteAgentProfile(
            gateway_pb2.DeleteAgentProfileRequest(agent_id="tom"), metadata=admin.metadata
        )
        assert deleted.deleted
        gone = await post(base_url, API_KEY, "tom", ask())
        assert gone.status_code == 400, gone.text

        bad = common_pb2.AgentProfile(agent_id="tom", role=common_pb2.AGENT_ROLE_LISTING_AGENT)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await put(admin, bad)
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
        assert "profile.experience must be one of" in (refused.value.details() or "")

    hostile = await post(base_url, API_KEY, "../../etc/passwd", ask())
    assert hostile.status_code == 400
    assert "completion.agent_id" in hostile.text or "not an agent id" in hostile.text


@pytest.fixture
async def default_door(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with start_door(unknown_agent="default") as suite:
        yield suite, suite.http_url


async def test_an_unknown_agent_gets_the_tenants_default_profile_when_so_configured(
    default_door: tuple[FullSuite, str],
) -> None:
    suite, base_url = default_door
    refused = await post(base_url, API_KEY, "newcomer", ask())
    assert refused.status_code == 400
    assert "no 'default' profile" in refused.json()["error"]["message"]

    default = common_pb2.AgentProfile()
    default.CopyFrom(SAM)
    default.agent_id = "default"
    async with suite.client(TENANT_ADMIN_KEY) as admin:
        await put(admin, default)
    served = await post(base_url, API_KEY, "newcomer", ask())
    assert served.status_code == 200, served.text
    assert "transaction coordinator" in sent_bodies(suite)[-1]["system"][-1]["text"]


async def test_the_grpc_door_carries_agent_id_too(door: tuple[FullSuite, str]) -> None:
    suite, _ = door
    async with suite.client(TENANT_ADMIN_KEY) as admin:
        await put(admin, TOM)
    async with suite.client() as client:
        result = await client.complete(
            system=PLAYBOOK,
            messages=[{"role": "user", "content": "How do I price a waterfront listing?"}],
            max_tokens=100,
            agent_id="tom",
        )
    assert result.account.cost.total_micros > 0
    assert sent_bodies(suite)[-1]["system"][-1]["text"] == render_profile(TOM)
