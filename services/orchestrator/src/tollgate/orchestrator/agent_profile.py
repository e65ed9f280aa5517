"""The agent profile block: who the answer is for, rendered as the last block of the system prompt.

The block comes after the shared instructions (the task's template and the caller's own system
prompt), and the orchestrator puts a prompt-cache breakpoint on the block before it, so every
agent of a tenant reads the same cached prefix and only the profile block (a few dozen tokens)
differs between agents. The text is a pure function of the profile (no dates, no ids), so one
agent's calls share their whole system prompt too. Its version travels in the result's
`template_version` (e.g. "chat@1+agent_profile@1").
"""

from __future__ import annotations

from tollgate.common.agent_profiles import check_profile
from tollgate.v1 import common_pb2

LABEL = "agent_profile@1"

_ROLES = {
    common_pb2.AGENT_ROLE_BUYERS_AGENT: "buyer's agent (represents buyers)",
    common_pb2.AGENT_ROLE_LISTING_AGENT: "listing agent (represents sellers)",
    common_pb2.AGENT_ROLE_TRANSACTION_COORDINATOR: (
        "transaction coordinator (runs deadlines, documents and parties from contract to close)"
    ),
    common_pb2.AGENT_ROLE_DUAL_AGENT: "dual agent (represents buyer and seller in one deal)",
    common_pb2.AGENT_ROLE_TEAM_LEAD: "team lead (supervises other agents)",
}

_EXPERIENCE = {
    common_pb2.AGENT_EXPERIENCE_NOVICE: (
        "novice: explain terms and each step, and say what to check with their broker"
    ),
    common_pb2.AGENT_EXPERIENCE_EXPERIENCED: (
        "experienced: skip the basics, be concrete about tactics and risks"
    ),
    common_pb2.AGENT_EXPERIENCE_EXPERT: (
        "expert: be brief, lead with what is unusual, no textbook explanations"
    ),
}


def render_profile(profile: common_pb2.AgentProfile) -> str:
    check_profile(profile, "spec.agent_profile")
    specializations = ", ".join(profile.specializations) or "none stated"
    return (
        "The agent you are working for (fit every answer to them):\n"
        f"- Role: {_ROLES[profile.role]}.\n"
        f"- Experience: {_EXPERIENCE[profile.experience]}.\n"
        f"- Specializations: {specializations}."
    )
