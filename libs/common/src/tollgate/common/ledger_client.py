"""A budget-ledger client that coalesces the Reserve, Commit and Release calls of concurrent
requests into `Settle` RPCs (group commit on the client side).

Each call still gets its own answer, or its own error raised as a ServiceError with the status a
unary call would have had; a failure of the RPC itself (UNAVAILABLE, deadline) is raised to every
call it carried, each of which may be retried (every ledger call is idempotent by request id).
One caller sends one call per RPC and waits for nothing; under load one RPC carries many calls,
so the per-RPC cost on both sides is shared.

A client whose commits are background work (the gateway's: its caller already has the answer)
can let them linger (`commit_linger`): a commit then waits up to that long for the next call's
RPC and rides in it, first in its batch, so the ledger settles it before that call (a reserve
then sees the hold's unused amount back). At a steady load a request then costs one Settle
instead of two; a lone commit goes when its linger has passed.
"""

from __future__ import annotations

from collections.abc import Sequence

from tollgate.common.batch_calls import MAX_BATCH_CALLS, check_count, unwrap
from tollgate.common.group_commit import GroupCommitter
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc


class CoalescingLedgerClient:
    def __init__(
        self,
        stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub,
        *,
        max_calls_per_rpc: int = 256,
        rpcs_in_flight: int = 2,
        timeout: float | None = None,
        commit_linger: float = 0.0,
    ) -> None:
        self._stub = stub
        self._timeout = timeout
        self._commit_linger = commit_linger
        self._committer: GroupCommitter[pb.LedgerCall, pb.LedgerCallResult] = GroupCommitter(
            self._send,
            max_batch=min(max_calls_per_rpc, MAX_BATCH_CALLS),
            workers=rpcs_in_flight,
        )

    async def reserve(self, request: pb.ReserveRequest) -> pb.ReserveResponse:
        result = await self._committer.submit(pb.LedgerCall(reserve=request))
        return unwrap(result, "reserve", pb.ReserveResponse, "ledger")

    async def commit(self, request: pb.CommitRequest) -> pb.CommitResponse:
        call = pb.LedgerCall(commit=request)
        if self._commit_linger > 0:
            result = await self._committer.submit_lingering(call, self._commit_linger)
        else:
            result = await self._committer.submit(call)
        return unwrap(result, "commit", pb.CommitResponse, "ledger")

    async def release(self, request: pb.ReleaseRequest) -> pb.ReleaseResponse:
        result = await self._committer.submit(pb.LedgerCall(release=request))
        return unwrap(result, "release", pb.ReleaseResponse, "ledger")

    async def close(self) -> None:
        """Send what is queued, then stop."""
        await self._committer.stop()

    async def _send(self, calls: Sequence[pb.LedgerCall]) -> Sequence[pb.LedgerCallResult]:
        reply = await self._stub.Settle(pb.SettleRequest(calls=calls), timeout=self._timeout)
        check_count(reply.results, calls, "ledger")
        return list(reply.results)
