"""The TLS options of every command that calls a Tollgate service over gRPC."""

from __future__ import annotations

import argparse

import grpc

from tollgate.client import ClientTls


def add_tls_arguments(parser: argparse.ArgumentParser) -> None:
    group = parser.add_argument_group("TLS (a gateway or service that serves TLS)")
    group.add_argument(
        "--tls", action="store_true", help="connect over TLS, verified against the system's roots"
    )
    group.add_argument("--tls-ca", metavar="PEM", help="verify the server against this CA (TLS)")
    group.add_argument("--tls-cert", metavar="PEM", help="client certificate, for mutual TLS")
    group.add_argument("--tls-key", metavar="PEM", help="the client certificate's key")


def client_tls(args: argparse.Namespace) -> ClientTls | None:
    """The TLS the options ask for; None for plaintext. ValueError names what is wrong."""
    if not (args.tls or args.tls_ca or args.tls_cert or args.tls_key):
        return None
    return ClientTls(args.tls_ca or "", args.tls_cert or "", args.tls_key or "")


def channel(target: str, credentials: grpc.ChannelCredentials | None) -> grpc.Channel:
    if credentials is None:
        return grpc.insecure_channel(target)
    return grpc.secure_channel(target, credentials)
