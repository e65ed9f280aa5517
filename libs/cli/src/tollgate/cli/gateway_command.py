"""What the admin commands (`tollgate budget`, `tollgate agents`) share: the gateway address,
API key and TLS options, and one call to the gateway with its refusal printed as a sentence."""

from __future__ import annotations

import argparse
import os
import sys
from collections.abc import Callable
from typing import Any

import grpc

from tollgate.cli.tls_options import add_tls_arguments, channel, client_tls
from tollgate.v1 import gateway_pb2_grpc

# Given the gateway stub and the call metadata (the key), make the command's calls.
GatewayCall = Callable[[gateway_pb2_grpc.GatewayServiceStub, Any], None]


def add_gateway_arguments(parser: argparse.ArgumentParser, key_help: str) -> None:
    parser.add_argument("--gateway", required=True, metavar="HOST:PORT", help="the gateway")
    parser.add_argument(
        "--api-key",
        default=os.environ.get("TOLLGATE_API_KEY", ""),
        help=f"{key_help} (default: $TOLLGATE_API_KEY)",
    )
    add_tls_arguments(parser)


def run_gateway_call(
    args: argparse.Namespace, command: str, call: GatewayCall, check: Callable[[], None]
) -> int:
    """0 when `call` succeeded; 2 for a usage mistake (no key, bad options: `check` raises
    ValueError), 1 when the gateway refused, with its status and sentence on stderr."""
    if not args.api_key:
        print(f"{command} needs an API key: --api-key or $TOLLGATE_API_KEY", file=sys.stderr)
        return 2
    try:
        tls = client_tls(args)
        credentials = tls.credentials() if tls else None
        check()
    except ValueError as exc:
        print(f"{command}: {exc}", file=sys.stderr)
        return 2
    metadata = (("authorization", f"Bearer {args.api_key}"),)
    try:
        with channel(args.gateway, credentials) as connection:
            call(gateway_pb2_grpc.GatewayServiceStub(connection), metadata)
    except grpc.RpcError as error:
        failed: Any = error
        print(f"{command}: {failed.code().name}: {failed.details()}", file=sys.stderr)
        return 1
    return 0
