"""The gateway's budget-ledger stub: Reserve, Commit and Release of concurrent requests travel
together in `Settle` RPCs, yet each behaves exactly as the unary call it replaces.

A hot tenant's requests each reserve and commit; sent one RPC per call, the gRPC cost per RPC on
both sides caps the ledger far below what it can settle (docs/budget_ledger.md, "Measured").
`tollgate.common.ledger_client.CoalescingLedgerClient` shares one RPC among the calls waiting
while the previous one is in flight. This stub puts it behind the stub's own method names, so
the gateway's one call path (`dependencies.call`: breaker, deadline, metrics) is unchanged, and
each call ends as its unary call would (`coalesced_calls`): a budget refusal or another key's
request id stays the caller's own mistake, never the other calls' and never the breaker's; the
RPC's failure is each call's; each call keeps its own deadline, and one whose deadline passed
is still settled with its RPC — a hold so made expires, a commit is idempotent.

A commit is background work (the caller already has its answer): it lingers up to
`COMMIT_LINGER_SECONDS` for the next request's reserve and rides first in its Settle, so at a
steady load a request costs the ledger one RPC and one transaction instead of two, and the
ledger settles the commit before the reserve it rides with. Until then the hold still counts
against the budget in full: a commit that waits can only make a reserve refuse earlier, never
let one spend more.

Every other method (RecordUsage, reports, administration) goes to the ledger as before.
"""

from __future__ import annotations

from typing import Any

from tollgate.common.ledger_client import CoalescingLedgerClient
from tollgate.gateway.coalesced_calls import as_unary
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

# Short beside the commit's own deadline (the ledger's 1 s by default) and a hold's lifetime; a
# gateway stopping sends its lingering commits (aclose).
COMMIT_LINGER_SECONDS = 0.02


class CoalescedLedgerStub:
    def __init__(
        self,
        stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub,
        *,
        rpc_timeout: float,
        commit_linger: float = COMMIT_LINGER_SECONDS,
    ) -> None:
        self._stub = stub
        self._client = CoalescingLedgerClient(
            stub, timeout=rpc_timeout, commit_linger=commit_linger
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def Reserve(
        self, request: pb.ReserveRequest, timeout: float | None = None
    ) -> pb.ReserveResponse:
        return await as_unary(self._client.reserve(request), timeout)

    async def Commit(
        self, request: pb.CommitRequest, timeout: float | None = None
    ) -> pb.CommitResponse:
        return await as_unary(self._client.commit(request), timeout)

    async def Release(
        self, request: pb.ReleaseRequest, timeout: float | None = None
    ) -> pb.ReleaseResponse:
        return await as_unary(self._client.release(request), timeout)

    async def aclose(self) -> None:
        """Send the calls already queued, then stop."""
        await self._client.close()
