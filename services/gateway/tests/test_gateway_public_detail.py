"""Skipped optimizations are explained without addresses, track names or raw gRPC errors."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.public_detail import skipped_detail

RAW = "failed to connect to all addresses; last error: ipv4:10.0.3.17:50054: Connection refused"


class _Track:
    backend = "semantic_cache"
    name = "canary"


def _rpc_error(code: grpc.StatusCode) -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), RAW, RAW)


def _down(error: grpc.aio.AioRpcError | None, reason: str) -> DependencyDown:
    track: Any = _Track()
    return DependencyDown(track, reason, error)


@pytest.mark.parametrize(
    ("exc", "kind"),
    [
        (_down(_rpc_error(grpc.StatusCode.UNAVAILABLE), f"unavailable: {RAW}"), "unavailable"),
        (_down(None, "circuit open"), "paused"),
        (_rpc_error(grpc.StatusCode.DEADLINE_EXCEEDED), "did not answer in time"),
        (_rpc_error(grpc.StatusCode.INTERNAL), "it failed"),
    ],
)
def test_the_detail_names_the_service_and_the_kind_of_failure_only(
    exc: BaseException, kind: str
) -> None:
    detail = skipped_detail("semantic_cache", exc)
    assert detail.startswith("skipped: the semantic cache service")
    assert kind in detail
    for leak in ("10.0.3.17", "50054", "ipv4", "canary", "Connection refused", "unavailable:"):
        assert leak not in detail
