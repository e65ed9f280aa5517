"""A backend stub whose unary calls of concurrent requests travel together in one batch RPC,
yet each behaves exactly as the unary call it replaces.

Every governed request looks up a cache, and on a miss stores; one RPC per call costs the gRPC
work of a hop on both sides each time, several times what the backend itself does for the call.
`tollgate.common.group_commit.GroupCommitter` shares one RPC among the calls waiting while the
previous one is in flight (a lone call is sent at once, waiting for nothing). This stub puts it
behind the backend stub's own method names, so the gateway's one call path
(`dependencies.call`: breaker, deadline, metrics) is unchanged and each call ends as its unary
call would (`coalesced_calls`): its own reply or refusal, the RPC's failure as its own, its own
deadline.

Background calls (stores, releases: the caller already has its answer) linger up to
`LINGER_SECONDS` for the next lookup's RPC and ride in it, so at a steady load a request costs
about one RPC instead of two; a lookup never lingers.

A batch's reply must fit in one message: the backend runs as many of a batch's lookups as its
reply has room for and answers the rest `send_alone`, as it does a call it will not run inside a
batch (the exact cache's lookup that would wait for another caller's fill). Such a call is sent
again here as its unary RPC, within what is left of its own deadline. A call larger than a share
of the message limit is sent alone from the start, so that no batch can exceed the limit and
fail the calls it carries because of one big request or answer.

The backends' batch RPCs (`ExactBatch`, `SemanticBatch`) share one shape: `calls`, each a
`call` oneof named by the kind of call, and `results`, each a `result` oneof of the same names,
`error` and `send_alone`.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, ClassVar, TypeVar

from google.protobuf.message import Message

from tollgate.common.batch_calls import MAX_BATCH_CALLS, check_count, unwrap
from tollgate.common.group_commit import GroupCommitter
from tollgate.gateway.coalesced_calls import as_unary

# The backends run only as many lookups of a batch as their reply has room for and send the rest
# back (the exact cache 30 with its default 256 KiB entries and 8 MiB messages): batches of this
# many calls never reach that, and already share the cost of an RPC among many calls. A stub
# whose backend has room for fewer says so (`calls_per_rpc`).
CALLS_PER_RPC = 24
# Background calls wait up to this long to ride in the RPC of the next lookup instead of
# costing an RPC of their own. Short beside a waiter's polling (5-50 ms) and their deadlines.
LINGER_SECONDS = 0.02

ReplyT = TypeVar("ReplyT", bound=Message)


class BatchingStub:
    """The backend stub given, whose calls declared with `batched_call` travel in batch RPCs
    (`batch_method`, of `batch_request` messages). Every other method is the stub's own."""

    batch_method: ClassVar[str]
    batch_request: ClassVar[type[Message]]
    service: ClassVar[str]
    calls_per_rpc: ClassVar[int] = CALLS_PER_RPC

    def __init__(
        self,
        stub: Any,
        *,
        rpc_timeout: float,
        max_message_bytes: int,
        max_calls_per_rpc: int | None = None,
        rpcs_in_flight: int = 2,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._stub = stub
        self._rpc_timeout = rpc_timeout
        self._linger = linger
        max_batch = min(max_calls_per_rpc or self.calls_per_rpc, MAX_BATCH_CALLS)
        # A batch of calls no larger than this stays within half the message limit.
        self._batched_bytes = max_message_bytes // 2 // max_batch
        # A call waits in the queue as (kind, request): it is copied into its batch once.
        self._committer: GroupCommitter[tuple[str, Message], Any] = GroupCommitter(
            self._send, max_batch=max_batch, workers=rpcs_in_flight
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def aclose(self) -> None:
        """Send the calls already queued, then stop."""
        await self._committer.stop()

    async def _call(
        self,
        request: Message,
        kind: str,
        expected: type[ReplyT],
        unary: Callable[..., Awaitable[ReplyT]],
        timeout: float | None,
        *,
        lingers: bool,
    ) -> ReplyT:
        """`request` as the `kind` call of a batch, or alone as `unary` when the batch cannot
        carry it (too large) or sends it back (see the module's doc)."""
        if request.ByteSize() > self._batched_bytes:
            return await unary(request, timeout=timeout)
        loop = asyncio.get_running_loop()
        started = loop.time()
        reply = await as_unary(self._batched(request, kind, expected, lingers), timeout)
        if reply is not None:
            return reply
        # Not run in the batch: the unary call, within what is left of this call's deadline.
        left = None if timeout is None else max(0.0, timeout - (loop.time() - started))
        return await unary(request, timeout=left)

    async def _batched(
        self, request: Message, kind: str, expected: type[ReplyT], lingers: bool
    ) -> ReplyT | None:
        """The call's reply from its batch, or None when the batch sent it back to be asked
        alone; its refusal raised as a ServiceError."""
        call = (kind, request)
        if lingers:
            result = await self._committer.submit_lingering(call, self._linger)
        else:
            result = await self._committer.submit(call)
        if result.WhichOneof("result") == "send_alone":
            return None
        return unwrap(result, kind, expected, self.service)

    async def _send(self, calls: Sequence[tuple[str, Message]]) -> Sequence[Any]:
        batch: Any = self.batch_request()
        for kind, request in calls:
            getattr(batch.calls.add(), kind).CopyFrom(request)
        reply = await getattr(self._stub, self.batch_method)(batch, timeout=self._rpc_timeout)
        check_count(reply.results, calls, self.service)
        return list(reply.results)


def batched_call(
    method: str, kind: str, reply: type[ReplyT], *, lingers: bool
) -> Callable[[BatchingStub, Any, float | None], Awaitable[ReplyT]]:
    """The stub method `method`, whose calls travel as `kind` calls of the stub's batches (and
    alone as the backend stub's own `method` when a batch cannot carry them); background calls
    `linger` for the next lookup's RPC."""

    async def call(self: BatchingStub, request: Any, timeout: float | None = None) -> ReplyT:
        unary = getattr(self._stub, method)
        return await self._call(request, kind, reply, unary, timeout, lingers=lingers)

    call.__name__ = method
    return call
