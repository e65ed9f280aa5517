"""The gateway's budget-ledger stub: Reserve, Commit and Release of concurrent requests travel
together in `Settle` RPCs, yet each behaves exactly as the unary call it replaces.

A hot tenant's requests each reserve and commit; sent one RPC per call, the gRPC cost per RPC on
both sides caps the ledger far below what it can settle (docs/budget_ledger.md, "Measured").
`tollgate.common.ledger_client.CoalescingLedgerClient` shares one RPC among the calls waiting
while the previous one is in flight. This stub puts it behind the stub's own method names, so
the gateway's one call path (`dependencies.call`: breaker, deadline, metrics) is unchanged:

- each call's refusal comes back as the `grpc.aio.AioRpcError` a unary call would have raised —
  its status code, sentence and `google.rpc` ErrorInfo details — so a budget refusal or another
  key's request id stays the caller's own mistake (never counted against the breaker) and never
  fails the other calls of its RPC;
- a failure of the RPC itself (the ledger down or too slow) is every carried call's failure,
  each raised as its own error and counted by the breaker like a failed unary call;
- each call keeps its own deadline (`timeout`): a caller whose deadline passes is answered
  DEADLINE_EXCEEDED at once, while its call is still settled with its RPC (as a unary call whose
  deadline passed at the server may still be) — a hold so made expires, a commit is idempotent.

Every other method (RecordUsage, reports, administration) goes to the ledger as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import Any, TypeVar

import grpc

from tollgate.common.errors import ServiceError
from tollgate.common.interceptors import status_details
from tollgate.common.ledger_client import CoalescingLedgerClient
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

Reply = TypeVar("Reply")


class CoalescedLedgerStub:
    def __init__(
        self, stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub, *, rpc_timeout: float
    ) -> None:
        self._stub = stub
        self._client = CoalescingLedgerClient(stub, timeout=rpc_timeout)

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def Reserve(
        self, request: pb.ReserveRequest, timeout: float | None = None
    ) -> pb.ReserveResponse:
        return await _as_unary(self._client.reserve(request), timeout)

    async def Commit(
        self, request: pb.CommitRequest, timeout: float | None = None
    ) -> pb.CommitResponse:
        return await _as_unary(self._client.commit(request), timeout)

    async def Release(
        self, request: pb.ReleaseRequest, timeout: float | None = None
    ) -> pb.ReleaseResponse:
        return await _as_unary(self._client.release(request), timeout)

    async def aclose(self) -> None:
        """Send the calls already queued, then stop."""
        await self._client.close()


async def _as_unary(pending: Awaitable[Reply], timeout: float | None) -> Reply:
    try:
        # asyncio.timeout, not wait_for: no task per call.
        async with asyncio.timeout(timeout):
            return await pending
    except ServiceError as error:  # this call's own answer: the status a unary call would have
        raise rpc_error(error) from None
    except grpc.aio.AioRpcError as error:  # the RPC failed: each call raises its own copy
        raise grpc.aio.AioRpcError(
            error.code(),
            error.initial_metadata(),
            error.trailing_metadata(),
            error.details(),
            error.debug_error_string(),
        ) from None
    except TimeoutError:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            "Deadline Exceeded",
        ) from None


def rpc_error(error: ServiceError) -> grpc.aio.AioRpcError:
    """The error a unary call refused with `error` raises: code, sentence and details."""
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status_details(error)))
    return grpc.aio.AioRpcError(error.code, grpc.aio.Metadata(), trailing, error.message)
