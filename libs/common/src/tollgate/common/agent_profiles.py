"""Agent profiles, one set of rules for every service: what a valid profile is, the block it
renders into the system prompt (version LABEL, reported in `template_version`), and its
canonical form (what a response cache keys on).

A profile is rendered into the system prompt of every call that names its agent, so a field
that passes here ends up in front of Claude: the checks are strict (closed enums, short
lowercase specializations from a small alphabet, no repeats), and a refusal names the field.
"""

from __future__ import annotations

import json
import re

from tollgate.common.errors import invalid_argument
from tollgate.v1 import common_pb2

AGENT_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]{0,63}")
SPECIALIZATION = re.compile(r"[a-z0-9][a-z0-9 '-]{0,39}")
MAX_SPECIALIZATIONS = 8
# The profile a tenant's requests fall back to for an unknown agent (when the gateway is so
# configured). An ordinary profile under a reserved id.
DEFAULT_AGENT_ID = "default"


def check_agent_id(value: str, field: str) -> str:
    if not value:
        raise invalid_argument(f"{field} is required.", field)
    if not AGENT_ID.fullmatch(value):
        raise invalid_argument(
            f"{field} {value[:80]!r} is not an agent id: use 1 to 64 letters, digits, '.', '_' "
            "or '-', starting with a letter or digit.",
            field,
        )
    return value


def _check_enum_value(enum: type, value: int, field: str) -> None:
    descriptor = enum.DESCRIPTOR  # type: ignore[attr-defined]
    known = {v.number for v in descriptor.values if v.number != 0}
    if value not in known:
        names = ", ".join(v.name for v in descriptor.values if v.number != 0)
        raise invalid_argument(f"{field} must be one of {names}; got {value}.", field)


def check_profile(profile: common_pb2.AgentProfile, field: str = "profile") -> None:
    """INVALID_ARGUMENT naming the first field that is missing or malformed."""
    check_agent_id(profile.agent_id, f"{field}.agent_id")
    _check_enum_value(common_pb2.AgentRole, profile.role, f"{field}.role")
    _check_enum_value(common_pb2.AgentExperience, profile.experience, f"{field}.experience")
    specializations = list(profile.specializations)
    if len(specializations) > MAX_SPECIALIZATIONS:
        raise invalid_argument(
            f"{field}.specializations has {len(specializations)} entries; the limit is "
            f"{MAX_SPECIALIZATIONS}.",
            f"{field}.specializations",
        )
    seen: set[str] = set()
    for index, value in enumerate(specializations):
        where = f"{field}.specializations[{index}]"
        if not SPECIALIZATION.fullmatch(value) or value != value.strip() or "  " in value:
            raise invalid_argument(
                f"{where} {value[:80]!r} is not a specialization: use 1 to 40 lowercase letters, "
                "digits, single spaces, '-' or an apostrophe, e.g. 'first-time buyers'.",
                where,
            )
        if value in seen:
            raise invalid_argument(f"{where} {value!r} is listed twice.", where)
        seen.add(value)


def canonical_profile(profile: common_pb2.AgentProfile) -> str:
    """What the profile puts in the prompt, as one stable string: profiles that render the same
    (whatever their agent ids) give equal strings."""
    return json.dumps(
        {
            "role": common_pb2.AgentRole.Name(profile.role),
            "experience": common_pb2.AgentExperience.Name(profile.experience),
            "specializations": list(profile.specializations),
        },
        sort_keys=True,
        separators=(",", ":"),
    )


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
    """The profile block's text: a pure function of what the profile says (not its agent id),
    so one agent's calls share their whole system prompt. Check the profile first."""
    specializations = ", ".join(profile.specializations) or "none stated"
    return (
        "The agent you are working for (fit every answer to them):\n"
        f"- Role: {_ROLES[profile.role]}.\n"
        f"- Experience: {_EXPERIENCE[profile.experience]}.\n"
        f"- Specializations: {specializations}."
    )


def profile_block(profile: common_pb2.AgentProfile) -> common_pb2.ContentBlock:
    """The system block the orchestrator appends last (the gateway bounds budget holds with it)."""
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=render_profile(profile)))
