"""The agent profile block: rendered last in the system prompt, after a breakpoint on the shared
instructions, so agents of one tenant share the cached prefix (against the emulator)."""

from __future__ import annotations

from collections.abc import Callable
from typing import Any, cast

import grpc
import pytest

from tollgate.common.agent_profiles import render_profile
from tollgate.emulator import EmulatorServer
from tollgate.orchestrator.prompt_cache import place_breakpoints
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
PLAYBOOK = "Harbor Realty answers buyers and sellers politely and quotes only listed prices. " * 80

NOVICE = common_pb2.AgentProfile(
    agent_id="maria",
    role=common_pb2.AGENT_ROLE_BUYERS_AGENT,
    experience=common_pb2.AGENT_EXPERIENCE_NOVICE,
    specializations=["first-time buyers"],
)
EXPERT = common_pb2.AgentProfile(
    agent_id="tom",
    role=common_pb2.AGENT_ROLE_LISTING_AGENT,
    experience=common_pb2.AGENT_EXPERIENCE_EXPERT,
    specializations=["luxury", "investors"],
)


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def test_every_role_and_experience_renders_and_the_text_depends_only_on_the_profile() -> None:
    for role in common_pb2.AgentRole.values()[1:]:
        for experience in common_pb2.AgentExperience.values()[1:]:
            profile = common_pb2.AgentProfile(agent_id="a")
            profile.role = cast(common_pb2.AgentRole, role)
            profile.experience = cast(common_pb2.AgentExperience, experience)
            assert "Role:" in render_profile(profile)
    renamed = common_pb2.AgentProfile()
    renamed.CopyFrom(NOVICE)
    renamed.agent_id = "someone-else"
    assert render_profile(renamed) == render_profile(NOVICE)
    assert render_profile(NOVICE) != render_profile(EXPERT)


def test_the_block_before_the_profile_gets_a_breakpoint_of_its_own() -> None:
    request = common_pb2.ClaudeRequest(
        system=[_text(PLAYBOOK), _text(render_profile(NOVICE))],
        messages=[common_pb2.Message(role=common_pb2.ROLE_USER, content=[_text("Hi")])],
    )
    placed = place_breakpoints(request, 1024, common_pb2.CACHE_TTL_5M, shared_system_blocks=1)
    # The shared instructions (every agent reads them) and the whole system prompt (this
    # agent's next calls read it).
    assert placed == 2
    assert request.system[0].HasField("cache_control")
    assert request.system[1].HasField("cache_control")

    without_profile = common_pb2.ClaudeRequest(
        system=[_text(PLAYBOOK), _text(render_profile(NOVICE))],
        messages=[common_pb2.Message(role=common_pb2.ROLE_USER, content=[_text("Hi")])],
    )
    # No profile block named: only the end of the system prompt, as before.
    assert place_breakpoints(without_profile, 1024, common_pb2.CACHE_TTL_5M) == 1
    assert not without_profile.system[0].HasField("cache_control")


async def _generate(stub: Stub, spec: orchestrator_pb2.GenerationSpec) -> Any:
    return (await stub.Generate(orchestrator_pb2.GenerateRequest(spec=spec), timeout=20)).result


def _system_texts(body: dict[str, Any]) -> list[str]:
    return [block["text"] for block in body["system"]]


async def test_two_agents_share_the_cached_instructions_and_differ_only_in_the_profile_block(
    make_spec: Callable[..., orchestrator_pb2.GenerationSpec],
    orchestrator: Stub,
    emulator: EmulatorServer,
) -> None:
    def spec(profile: common_pb2.AgentProfile) -> orchestrator_pb2.GenerationSpec:
        return make_spec(
            "Should my client waive the inspection?",
            system=PLAYBOOK,
            prompt_caching=True,
            apply_template=True,
            template_variables={"company": "Harbor Realty"},
            agent_profile=profile,
        )

    coordinator = common_pb2.AgentProfile(
        agent_id="sam",
        role=common_pb2.AGENT_ROLE_TRANSACTION_COORDINATOR,
        experience=common_pb2.AGENT_EXPERIENCE_EXPERIENCED,
    )
    first = await _generate(orchestrator, spec(NOVICE))
    second = await _generate(orchestrator, spec(EXPERT))
    third = await _generate(orchestrator, spec(coordinator))
    again = await _generate(orchestrator, spec(NOVICE))

    bodies = [r.body for r in emulator.stats.requests if r.path == "/v1/messages"]
    novice, expert = _system_texts(bodies[0]), _system_texts(bodies[1])
    # Template, the caller's playbook, then the profile: only the last block differs.
    assert len(novice) == len(expert) == 3
    assert novice[:2] == expert[:2]
    assert novice[2] == render_profile(NOVICE)
    assert expert[2] == render_profile(EXPERT)
    assert bodies[0]["messages"] == bodies[1]["messages"]
    assert "cache_control" in bodies[0]["system"][1]
    assert first.template_version == "chat@1+agent_profile@1"

    # Every later agent reads the same shared prefix (template + playbook) and writes only
    # its own profile block.
    shared = second.response.usage.cache_read_input_tokens
    assert shared > 1024
    assert third.response.usage.cache_read_input_tokens == shared
    written = first.response.usage
    assert written.cache_read_input_tokens == 0
    profile_part = written.cache_creation_input_tokens - shared
    assert 0 < profile_part < 100
    assert second.response.usage.cache_creation_input_tokens < 100
    # The first agent's next call reads everything it wrote, its profile included.
    assert again.response.usage.cache_read_input_tokens == written.cache_creation_input_tokens


async def test_a_malformed_profile_is_refused_before_claude_is_called(
    make_spec: Callable[..., orchestrator_pb2.GenerationSpec],
    orchestrator: Stub,
    emulator: EmulatorServer,
) -> None:
    bad = common_pb2.AgentProfile(agent_id="x", role=common_pb2.AGENT_ROLE_BUYERS_AGENT)
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await _generate(orchestrator, make_spec(agent_profile=bad))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "spec.agent_profile.experience" in (refused.value.details() or "")
    assert not [r for r in emulator.stats.requests if r.path == "/v1/messages"]
