"""The gateway's exact-cache stub: the ExactLookup, ExactStore and ExactRelease calls of
concurrent requests travel together in `ExactBatch` RPCs, yet each behaves exactly as the unary
call it replaces.

Every governed request looks up, and on a miss stores; one RPC per call costs the gRPC work of a
hop on both sides each time, several times what the cache itself does for the call.
`tollgate.common.group_commit.GroupCommitter` shares one RPC among the calls waiting while the
previous one is in flight (a lone call is sent at once, waiting for nothing).
This stub puts it behind the stub's own method names, so the gateway's one call path
(`dependencies.call`: breaker, deadline, metrics) is unchanged and each call ends as its unary
call would (`coalesced_calls`): its own reply or refusal, the RPC's failure as its own, its own
deadline.

Stores and releases are background work (the caller has its answer): each lingers up to
`LINGER_SECONDS` for the next lookup's RPC and rides in it, so at a steady load a request costs
about one RPC to the cache instead of two; a lookup never lingers.

One stub per deployment (stable, canary): `RequestRoutes.cache()` picks the track per request,
and a batch goes to the track whose stub carried it.

Single flight is kept exactly: the cache never lets a batched lookup wait for another caller's
fill (the wait would hold up the answers of every call of its batch). A lookup that would wait
is answered `send_alone`, having written and counted nothing, and is sent again here as the
unary ExactLookup, which takes the lease over or waits for the stored answer exactly as before,
within what is left of the call's own deadline. The same holds for a lookup the batch's reply
had no room for.

A call larger than a share of the message limit is sent alone as well, so that no batch can
exceed the limit and fail the calls it carries because of one big request or answer.

Order: the calls of a batch run concurrently on the cache, as concurrent unary calls did. The
order that matters holds by construction: a request stores or releases only after its lookup
answered (with the lease the store gives back), and the calls queued when the gateway stops
are sent, not dropped (`aclose`), so no lease is left to run out.

ExactInvalidate and ExactStats go to the cache as before.
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Any, TypeVar

from google.protobuf.message import Message

from tollgate.common.batch_calls import check_count, unwrap
from tollgate.common.group_commit import GroupCommitter
from tollgate.gateway.coalesced_calls import as_unary
from tollgate.v1 import cache_pb2, cache_pb2_grpc

# What the cache accepts in one ExactBatch (tollgate.cache.servicer.MAX_BATCH_CALLS).
MAX_CALLS_PER_RPC = 1000
# The cache runs only as many lookups of a batch as its reply has room for whole stored answers
# (30 with its default 256 KiB entries and 8 MiB messages) and sends the rest back: batches of
# this many calls never reach that, and already share the cost of an RPC among many calls.
CALLS_PER_RPC = 24
# Stores and releases are background work: each waits up to this long to ride in the RPC of the
# next lookup instead of costing an RPC of its own. Short beside a waiter's polling (5-50 ms) and
# the store's own deadline.
LINGER_SECONDS = 0.02

ReplyT = TypeVar("ReplyT", bound=Message)


class CoalescedCacheStub:
    def __init__(
        self,
        stub: cache_pb2_grpc.CacheServiceStub,
        *,
        rpc_timeout: float,
        max_message_bytes: int,
        max_calls_per_rpc: int = CALLS_PER_RPC,
        rpcs_in_flight: int = 2,
        linger: float = LINGER_SECONDS,
    ) -> None:
        self._stub = stub
        self._rpc_timeout = rpc_timeout
        self._linger = linger
        max_batch = min(max_calls_per_rpc, MAX_CALLS_PER_RPC)
        # A batch of calls no larger than this stays within half the message limit.
        self._batched_bytes = max_message_bytes // 2 // max_batch
        # A call waits in the queue as (kind, request): it is copied into its batch once.
        self._committer: GroupCommitter[tuple[str, Message], cache_pb2.ExactCallResult] = (
            GroupCommitter(self._send, max_batch=max_batch, workers=rpcs_in_flight)
        )

    def __getattr__(self, method: str) -> Any:
        return getattr(self._stub, method)

    async def ExactLookup(
        self, request: cache_pb2.ExactLookupRequest, timeout: float | None = None
    ) -> cache_pb2.ExactLookupResponse:
        return await self._call(
            request,
            "lookup",
            cache_pb2.ExactLookupResponse,
            self._stub.ExactLookup,
            timeout,
            lingers=False,
        )

    async def ExactStore(
        self, request: cache_pb2.ExactStoreRequest, timeout: float | None = None
    ) -> cache_pb2.ExactStoreResponse:
        return await self._call(
            request,
            "store",
            cache_pb2.ExactStoreResponse,
            self._stub.ExactStore,
            timeout,
            lingers=True,
        )

    async def ExactRelease(
        self, request: cache_pb2.ExactReleaseRequest, timeout: float | None = None
    ) -> cache_pb2.ExactReleaseResponse:
        return await self._call(
            request,
            "release",
            cache_pb2.ExactReleaseResponse,
            self._stub.ExactRelease,
            timeout,
            lingers=True,
        )

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
        # Not run in the batch (a lookup that waits for another caller's fill, or one the
        # reply had no room for): the unary call, within what is left of this call's deadline.
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
        return unwrap(result, kind, expected, "cache")

    async def _send(
        self, calls: Sequence[tuple[str, Message]]
    ) -> Sequence[cache_pb2.ExactCallResult]:
        batch = cache_pb2.ExactBatchRequest()
        for kind, request in calls:
            getattr(batch.calls.add(), kind).CopyFrom(request)
        reply = await self._stub.ExactBatch(batch, timeout=self._rpc_timeout)
        check_count(reply.results, calls, "cache")
        return list(reply.results)
