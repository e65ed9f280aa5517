"""What an account may say about a skipped optimization: which service, and what kind of
failure, in a sentence -- never a backend's address, a canary track's name or a raw gRPC error
(those describe the cluster to whoever holds an API key). The full error goes to the log."""

from __future__ import annotations

import grpc

from tollgate.gateway.dependencies import DependencyDown

_KINDS = {
    grpc.StatusCode.DEADLINE_EXCEEDED: "it did not answer in time",
    grpc.StatusCode.UNAVAILABLE: "it is unavailable",
    grpc.StatusCode.RESOURCE_EXHAUSTED: "it is overloaded",
    grpc.StatusCode.CANCELLED: "the call was cancelled",
    grpc.StatusCode.INVALID_ARGUMENT: "it could not use this request",
}


def _service_name(backend: str) -> str:
    return backend.replace("_", " ")


def skipped_detail(backend: str, exc: BaseException) -> str:
    """`OptimizationReport.detail` for an optimization skipped because `backend` failed."""
    cause = exc.error if isinstance(exc, DependencyDown) else exc
    if isinstance(cause, grpc.aio.AioRpcError):
        kind = _KINDS.get(cause.code(), "it failed")
    elif isinstance(exc, DependencyDown):
        kind = "it is failing and calls to it are paused"
    else:
        kind = "it failed"
    return f"skipped: the {_service_name(backend)} service was not used because {kind}"
