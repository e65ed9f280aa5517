"""Agent profiles at the gateway without a network: the hold covers the profile block, the exact
cache key follows what the profile renders, and agent ids are checked before anything runs."""

from __future__ import annotations

import pytest

from tollgate.common.agent_profiles import profile_block
from tollgate.common.errors import ServiceError
from tollgate.common.pricing import PriceTable
from tollgate.common.token_bound import upper_bound_text
from tollgate.gateway.agent_fingerprint import profile_fingerprint
from tollgate.gateway.http.inbound import completion
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.budget_hold import input_tokens
from tollgate.gateway.validation import RequestValidator
from tollgate.v1 import common_pb2, gateway_pb2

PROFILE = common_pb2.AgentProfile(
    agent_id="maria",
    role=common_pb2.AGENT_ROLE_BUYERS_AGENT,
    experience=common_pb2.AGENT_EXPERIENCE_NOVICE,
    specializations=["first-time buyers", "condos", "relocation"],
)


def _request() -> common_pb2.ClaudeRequest:
    return common_pb2.ClaudeRequest(
        model="claude-sonnet-5-5",
        max_tokens=100,
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="Hi"))],
            )
        ],
    )


def test_the_hold_counts_the_profile_block_the_orchestrator_will_add() -> None:
    settings = Settings()
    plain = input_tokens(settings, _request())
    with_profile = input_tokens(settings, _request(), agent_profile=PROFILE)
    assert with_profile - plain >= upper_bound_text(profile_block(PROFILE).text.text)


def test_the_cache_fingerprint_follows_what_the_profile_renders() -> None:
    renamed = common_pb2.AgentProfile()
    renamed.CopyFrom(PROFILE)
    renamed.agent_id = "maria-2"
    assert profile_fingerprint(renamed) == profile_fingerprint(PROFILE)
    other = common_pb2.AgentProfile()
    other.CopyFrom(PROFILE)
    other.experience = common_pb2.AGENT_EXPERIENCE_EXPERT
    assert profile_fingerprint(other) != profile_fingerprint(PROFILE)
    assert len(profile_fingerprint(PROFILE)) <= 256  # the cache's template_version limit


@pytest.mark.parametrize("agent_id", ["../etc", "maria\n", "x" * 65, " maria", "ünïcode"])
def test_a_malformed_agent_id_is_refused_by_validation(agent_id: str) -> None:
    validator = RequestValidator(Settings(), PriceTable.load())
    with pytest.raises(ServiceError) as refused:
        validator.check(gateway_pb2.Completion(request=_request(), agent_id=agent_id))
    assert refused.value.field_violations[0][0] == "completion.agent_id"


def test_the_http_door_reads_the_agent_header() -> None:
    body = {
        "model": "claude-sonnet-5-5",
        "max_tokens": 10,
        "messages": [{"role": "user", "content": "Hi"}],
    }
    assert completion(body, {"x-tollgate-agent": " maria "}).agent_id == "maria"
    assert completion(body, {}).agent_id == ""
