"""A budget-ledger client that coalesces the Reserve, Commit and Release calls of concurrent
requests into `Settle` RPCs (group commit on the client side).

Each call still gets its own answer, or its own error raised as a ServiceError with the status a
unary call would have had; a failure of the RPC itself (UNAVAILABLE, deadline) is raised to every
call it carried, each of which may be retried (every ledger call is idempotent by request id).
One caller sends one call per RPC and waits for nothing; under load one RPC carries many calls,
so the per-RPC cost on both sides is shared.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import TypeVar

import grpc

from tollgate.common.errors import ServiceError
from tollgate.common.group_commit import GroupCommitter
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

# What the ledger accepts in one Settle.
MAX_CALLS_PER_RPC = 1000

ReplyT = TypeVar("ReplyT", pb.ReserveResponse, pb.CommitResponse, pb.ReleaseResponse)


class CoalescingLedgerClient:
    def __init__(
        self,
        stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub,
        *,
        max_calls_per_rpc: int = 256,
        rpcs_in_flight: int = 2,
        timeout: float | None = None,
    ) -> None:
        self._stub = stub
        self._timeout = timeout
        self._committer: GroupCommitter[pb.LedgerCall, pb.LedgerCallResult] = GroupCommitter(
            self._send,
            max_batch=min(max_calls_per_rpc, MAX_CALLS_PER_RPC),
            workers=rpcs_in_flight,
        )

    async def reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse:
        result = await self._committer.submit(pb.LedgerCall(reserve=request))
        return _unwrap(result, "reserve", pb.ReserveResponse)

    async def commit(self, request: pb.CommitRequest) -> pb.CommitResponse:
        result = await self._committer.submit(pb.LedgerCall(commit=request))
        return _unwrap(result, "commit", pb.CommitResponse)

    async def release(self, request: pb.ReleaseRequest) -> pb.ReleaseResponse:
        result = await self._committer.submit(pb.LedgerCall(release=request))
        return _unwrap(result, "release", pb.ReleaseResponse)

    async def close(self) -> None:
        """Send what is queued, then stop."""
        await self._committer.stop()

    async def _send(self, calls: Sequence[pb.LedgerCall]) -> Sequence[pb.LedgerCallResult]:
        reply = await self._stub.Settle(pb.SettleRequest(calls=calls), timeout=self._timeout)
        if len(reply.results) != len(calls):
            raise ServiceError(
                f"the ledger answered {len(reply.results)} of {len(calls)} calls",
                grpc.StatusCode.UNAVAILABLE,
            )
        return list(reply.results)


_CODES = {code.value[0]: code for code in grpc.StatusCode}


def _unwrap(result: pb.LedgerCallResult, kind: str, expected: type[ReplyT]) -> ReplyT:
    if result.WhichOneof("result") == "error":
        error = result.error
        raise ServiceError(
            error.message,
            _CODES.get(error.code, grpc.StatusCode.UNKNOWN),
            metadata=dict(error.metadata),
            reason=error.reason,
        )
    reply = getattr(result, kind)
    if result.WhichOneof("result") != kind or not isinstance(reply, expected):
        raise ServiceError(
            f"the ledger answered a {kind} with {result.WhichOneof('result')}",
            grpc.StatusCode.UNAVAILABLE,
        )
    return reply
