"""`tollgate agents put|get|list|delete`: a tenant's agent profiles through the gateway's
PutAgentProfile, GetAgentProfile, ListAgentProfiles and DeleteAgentProfile. Put and delete need
an admin key; get and list work with any key of the tenant. Roles and experience levels are
given by their short names (`buyers_agent`, `novice`)."""

from __future__ import annotations

import argparse
import sys
from collections.abc import Iterable
from typing import Any, TextIO

from tollgate.cli.gateway_admin import add_gateway_arguments, call_gateway
from tollgate.v1 import common_pb2, gateway_pb2


def _names(enum: Any, prefix: str) -> dict[str, int]:
    return {name.removeprefix(prefix).lower(): value for name, value in enum.items() if value != 0}


ROLES = _names(common_pb2.AgentRole, "AGENT_ROLE_")
EXPERIENCE = _names(common_pb2.AgentExperience, "AGENT_EXPERIENCE_")


def _short(enum: Any, prefix: str, value: int) -> str:
    return str(enum.Name(value)).removeprefix(prefix).lower() if value in enum.values() else "?"


def _table(profiles: Iterable[common_pb2.AgentProfile], out: TextIO) -> None:
    print(f"{'agent':<24} {'role':<24} {'experience':<12} specializations", file=out)
    for profile in profiles:
        role = _short(common_pb2.AgentRole, "AGENT_ROLE_", profile.role)
        level = _short(common_pb2.AgentExperience, "AGENT_EXPERIENCE_", profile.experience)
        specializations = ", ".join(profile.specializations)
        print(f"{profile.agent_id:<24} {role:<24} {level:<12} {specializations}", file=out)


def _profile(args: argparse.Namespace) -> common_pb2.AgentProfile:
    profile = common_pb2.AgentProfile(agent_id=args.agent_id)
    profile.role = ROLES[args.role]  # type: ignore[assignment]
    profile.experience = EXPERIENCE[args.experience]  # type: ignore[assignment]
    profile.specializations.extend(args.specialization or [])
    return profile


def _call(stub: Any, args: argparse.Namespace, metadata: Any, out: TextIO) -> None:
    tenant = args.tenant or ""
    if args.action == "put":
        reply = stub.PutAgentProfile(
            gateway_pb2.PutAgentProfileRequest(tenant_id=tenant, profile=_profile(args)),
            metadata=metadata,
        )
        print(f"{'created' if reply.created else 'replaced'} {reply.profile.agent_id}", file=out)
        _table([reply.profile], out)
    elif args.action == "get":
        reply = stub.GetAgentProfile(
            gateway_pb2.GetAgentProfileRequest(tenant_id=tenant, agent_id=args.agent_id),
            metadata=metadata,
        )
        _table([reply.profile], out)
    elif args.action == "list":
        reply = stub.ListAgentProfiles(
            gateway_pb2.ListAgentProfilesRequest(tenant_id=tenant), metadata=metadata
        )
        _table(reply.profiles, out)
    else:
        reply = stub.DeleteAgentProfile(
            gateway_pb2.DeleteAgentProfileRequest(tenant_id=tenant, agent_id=args.agent_id),
            metadata=metadata,
        )
        print(f"{'deleted' if reply.deleted else 'no such agent'} {args.agent_id}", file=out)


def run(args: argparse.Namespace, out: TextIO = sys.stdout) -> int:
    # argparse already refused unknown roles and levels; the gateway checks the rest.
    return call_gateway(args, "agents", lambda stub, metadata: _call(stub, args, metadata, out))


def register(subparsers: Any) -> None:
    parser = subparsers.add_parser(
        "agents", help="agent profiles: put and delete (admin key), get and list (any key)"
    )
    add_gateway_arguments(parser)
    actions = parser.add_subparsers(dest="action", required=True)
    for name, what in (
        ("put", "create or replace an agent's profile"),
        ("get", "one agent's profile"),
        ("list", "every agent profile of the tenant"),
        ("delete", "delete an agent's profile"),
    ):
        action = actions.add_parser(name, help=what)
        action.add_argument(
            "--tenant", default="", help="another tenant (operator keys only); default: the key's"
        )
        if name != "list":
            action.add_argument("agent_id")
    put = actions.choices["put"]
    put.add_argument("--role", choices=sorted(ROLES), required=True)
    put.add_argument("--experience", choices=sorted(EXPERIENCE), required=True)
    put.add_argument(
        "--specialization",
        action="append",
        metavar="TEXT",
        help="repeat for several, e.g. --specialization luxury --specialization investors",
    )
    parser.set_defaults(handler=run)
