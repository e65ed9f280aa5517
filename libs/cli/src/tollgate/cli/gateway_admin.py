"""What every admin command (`tollgate budget`, `tollgate keys`) shares: the gateway, the admin
key, the TLS options, and one way to report a refused call."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import grpc

from tollgate.cli.tls_options import add_tls_arguments, channel, client_tls
from tollgate.v1 import gateway_pb2_grpc

Metadata = tuple[tuple[str, str], ...]
Work = Callable[[gateway_pb2_grpc.GatewayServiceStub, Metadata], None]


def add_gateway_arguments(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--gateway", required=True, metavar="HOST:PORT", help="the gateway")
    parser.add_argument(
        "--api-key", default=os.environ.get("TOLLGATE_API_KEY", ""),
        help="admin API key (default: $TOLLGATE_API_KEY)",
    )  # fmt: skip
    add_tls_arguments(parser)


def call_gateway(
    args: argparse.Namespace, command: str, work: Work, check: Callable[[], None] | None = None
) -> int:
    """Run `work` against the gateway: 0 done, 1 refused by the gateway, 2 a bad command line
    (`check` raises ValueError for arguments that make no sense, before any call)."""
    if not args.api_key:
        print(f"tollgate {command} needs an admin key: --api-key or $TOLLGATE_API_KEY",
              file=sys.stderr)  # fmt: skip
        return 2
    try:
        tls = client_tls(args)
        credentials = tls.credentials() if tls else None
        if check is not None:
            check()
    except ValueError as exc:
        print(f"tollgate {command}: {exc}", file=sys.stderr)
        return 2
    metadata = (("authorization", f"Bearer {args.api_key}"),)
    try:
        with channel(args.gateway, credentials) as connection:
            work(gateway_pb2_grpc.GatewayServiceStub(connection), metadata)
    except grpc.RpcError as error:
        call: Any = error
        print(f"tollgate {command}: {call.code().name}: {call.details()}", file=sys.stderr)
        return 1
    return 0
