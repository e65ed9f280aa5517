"""The CacheService RPCs: check the input, apply the policy, talk to Redis, explain the outcome.

Lookups and stores never fail because of Redis: a lookup becomes a miss, a store is skipped, and
the reason says so. Invalidation and stats do fail (UNAVAILABLE) when Redis is down, because the
caller must not believe entries were removed, or read numbers, that were not.

ExactBatch runs each of its calls through the same methods as the unary ExactLookup, ExactStore
and ExactRelease (`_lookup_call`, `_store_call`, `_release_call`), concurrently; each call gets
its own result or its own error. A batched lookup never waits for another caller's fill (it would
hold up the whole reply): it is answered `send_alone` instead, and its caller sends it again as
ExactLookup, which waits.
"""

from __future__ import annotations

import logging

import grpc
from google.protobuf.message import DecodeError

from tollgate.cache import validation
from tollgate.cache.canonical import MalformedRequestError, Rendering, cache_key
from tollgate.cache.entries import CacheUnavailable, EntryStore
from tollgate.cache.keys import TenantKeys, tenant_keys
from tollgate.cache.metrics import instruments
from tollgate.cache.policy import CachePolicy
from tollgate.cache.settings import Settings
from tollgate.cache.single_flight import LookupResult, Outcome, SingleFlight
from tollgate.common.batch_calls import (
    RESULTS_RESERVE_BYTES,
    answer_or_refusal,
    check_batch_size,
    refusal_fields,
    run_concurrently,
)
from tollgate.common.errors import ServiceError, invalid_argument, unavailable
from tollgate.common.interceptors import annotate
from tollgate.v1 import cache_pb2, cache_pb2_grpc, common_pb2

log = logging.getLogger("tollgate.cache")

_MISS_REASONS = {
    Outcome.FILL_PENDING: "an identical request is being answered by another caller",
    Outcome.WAIT_TIMED_OUT: "waited for an identical request's answer; it did not come in time",
    Outcome.UNCACHEABLE: "an identical request's answer was just found not cacheable",
    Outcome.DEGRADED: "the cache store is unavailable; answered as a miss",
}

# A lookup's reply besides the stored answer: key, reason, framing.
_LOOKUP_REPLY_OVERHEAD = 1024

_WAIT_ELSEWHERE = cache_pb2.ExactSendAlone(
    reason="an identical request is being answered by another caller; send the lookup alone "
    "(ExactLookup) to wait for its answer"
)
_NO_ROOM = cache_pb2.ExactSendAlone(
    reason="the batch holds more lookups than its reply has room for answers; send the lookup "
    "alone (ExactLookup)"
)


def _count_lookup(result: str) -> None:
    # Labelled like the semantic cache's lookups, so dashboards compare the two caches.
    instruments().lookups.add(1, {"cache": "exact", "result": result})


class CacheServicer(cache_pb2_grpc.CacheServiceServicer):
    def __init__(
        self,
        settings: Settings,
        store: EntryStore,
        single_flight: SingleFlight,
        policy: CachePolicy,
    ) -> None:
        self._settings = settings
        self._store = store
        self._single_flight = single_flight
        self._policy = policy
        # Each lookup of a batch may answer a whole stored entry; the reply must fit in one
        # message (max_message_bytes is every service's send and receive limit), so the lookups
        # past this many in one batch are sent back to be asked alone, before they run.
        self._lookups_per_batch = max(
            1,
            (settings.max_message_bytes - RESULTS_RESERVE_BYTES)
            // (settings.max_entry_bytes + _LOOKUP_REPLY_OVERHEAD),
        )

    def _keys(self, tenant_id: str) -> TenantKeys:
        return tenant_keys(self._settings.key_prefix, tenant_id)

    async def ExactLookup(
        self, request: cache_pb2.ExactLookupRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactLookupResponse:
        reply = await self._lookup_call(_annotated_tenant(request.context), request, context)
        assert isinstance(reply, cache_pb2.ExactLookupResponse)  # only a batch defers a wait
        return reply

    async def _lookup_call(
        self,
        tenant_id: str,
        request: cache_pb2.ExactLookupRequest,
        context: grpc.aio.ServicerContext | None,
    ) -> cache_pb2.ExactLookupResponse | cache_pb2.ExactSendAlone:
        """The lookup of ExactLookup (`context` is its RPC's) and of a batch (`context` None:
        a lookup that would wait is answered send_alone instead, having counted nothing)."""
        task = validation.task_of(request.context)
        template_version = validation.template_version(request.template_version)
        wait_seconds = validation.seconds(request.wait_for_fill, "wait_for_fill")
        validation.claude_request(request.request)
        rendering = Rendering(
            validation.template_variables(request.template_variables),
            validation.contact_scope(request.contact_scope),
        )
        try:
            key = cache_key(tenant_id, task, template_version, request.request, rendering)
        except MalformedRequestError as exc:
            raise invalid_argument(str(exc), f"request.{exc.field}") from None

        verdict = self._policy.request_verdict(
            request.request, tenant_id, task, request.cache_sampled
        )
        if not verdict.cacheable:
            _count_lookup("bypass")
            return cache_pb2.ExactLookupResponse(cacheable=False, reason=verdict.reason)

        result = await self._single_flight.lookup(
            self._keys(tenant_id),
            key,
            acquire=request.acquire_fill_lease,
            wait_seconds=self._wait_budget(wait_seconds, context),
            defer_wait=context is None,
        )
        if result.outcome is Outcome.WAIT_DEFERRED:
            return _WAIT_ELSEWHERE
        return self._lookup_response(key, result)

    def _wait_budget(self, asked: float, context: grpc.aio.ServicerContext | None) -> float:
        """What the caller asked for, within the configured cap and the call's own deadline
        (leaving room for the last look and the reply). A batched lookup has no deadline of
        its own here: whether it would wait is all that counts."""
        budget = min(asked, self._settings.max_wait_for_fill_seconds)
        remaining = None if context is None else context.time_remaining()
        if remaining is not None:
            budget = min(budget, remaining - 2 * self._settings.lookup_timeout_seconds)
        return max(0.0, budget)

    def _lookup_response(self, key: str, result: LookupResult) -> cache_pb2.ExactLookupResponse:
        answer = cache_pb2.ExactLookupResponse(key=key, cacheable=True)
        if result.outcome is Outcome.HIT:
            try:
                answer.response.ParseFromString(result.value)
            except DecodeError:
                log.error("stored answer could not be decoded", extra={"key": key})
                _count_lookup("degraded")
                answer.ClearField("response")
                answer.reason = "the stored answer could not be read; answered as a miss"
                return answer
            answer.hit = True
            _count_lookup("hit")
            return answer
        degraded = result.outcome is Outcome.DEGRADED
        _count_lookup("degraded" if degraded else "miss")
        answer.fill_lease = result.lease
        answer.reason = _MISS_REASONS.get(result.outcome, "")
        return answer

    async def ExactStore(
        self, request: cache_pb2.ExactStoreRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactStoreResponse:
        return await self._store_call(_annotated_tenant(request.context), request)

    async def _store_call(
        self, tenant_id: str, request: cache_pb2.ExactStoreRequest
    ) -> cache_pb2.ExactStoreResponse:
        settings = self._settings
        task = validation.task_of(request.context)
        key = validation.key_hash(request.key)
        lease = validation.fill_lease(request.fill_lease)
        keys = self._keys(tenant_id)
        try:
            tags, ttl_asked = self._store_options(request)
        except ServiceError:
            # The same request would be refused again: callers waiting on this lease go upstream
            # at once instead of waiting out a lease no store will give back.
            await self._give_back(keys, key, lease, settings.uncacheable_hold_seconds)
            instruments().stores.add(1, {"outcome": "rejected"})
            raise

        refusal = self._refusal(request.response, tenant_id, task)
        if refusal:
            # Waiting callers go upstream at once: this answer will not be stored for them.
            await self._give_back(keys, key, lease, settings.uncacheable_hold_seconds)
            instruments().stores.add(1, {"outcome": "rejected"})
            return cache_pb2.ExactStoreResponse(stored=False, reason=refusal)

        value = request.response.SerializeToString()
        ttl_seconds = ttl_asked or self._policy.ttl_seconds(tenant_id, task)
        try:
            stored = await self._store.put(
                keys, key, value, max(1, round(ttl_seconds * 1000)), tags, lease
            )
        except CacheUnavailable:
            instruments().stores.add(1, {"outcome": "failed"})
            return cache_pb2.ExactStoreResponse(
                stored=False, reason="the cache store is unavailable; the answer was not stored"
            )
        if not stored:
            instruments().stores.add(1, {"outcome": "invalidated"})
            return cache_pb2.ExactStoreResponse(
                stored=False,
                reason="the tenant's entries, or one of these tags, were invalidated while the "
                "answer was being computed; it was not stored",
            )
        instruments().stores.add(1, {"outcome": "stored"})
        return cache_pb2.ExactStoreResponse(stored=True)

    def _store_options(self, request: cache_pb2.ExactStoreRequest) -> tuple[list[str], float]:
        """The store's tags and asked ttl, or INVALID_ARGUMENT for a store that cannot be made."""
        settings = self._settings
        tags = validation.tags(
            request.tags, limit=settings.max_tags_per_entry, max_length=settings.max_tag_length
        )
        ttl_asked = validation.seconds(request.ttl, "ttl")
        if ttl_asked > settings.max_ttl_seconds:
            raise invalid_argument(
                f"ttl is {ttl_asked:g} s; at most {settings.max_ttl_seconds} s is allowed.", "ttl"
            )
        if not request.HasField("response"):
            raise invalid_argument("response is required: it is what gets stored.", "response")
        return tags, ttl_asked

    def _refusal(self, response: common_pb2.ClaudeResponse, tenant_id: str, task: str) -> str:
        """Why this answer must not be stored, or "" when it may."""
        verdict = self._policy.response_verdict(response)
        if not verdict.cacheable:
            return verdict.reason
        size = response.ByteSize()
        if size > self._settings.max_entry_bytes:
            return (
                f"the answer is {size} bytes, over the cap of {self._settings.max_entry_bytes} "
                "bytes per entry"
            )
        if self._policy.ttl_seconds(tenant_id, task) == 0:
            return f"caching is turned off for this tenant's {task} requests"
        return ""

    async def _give_back(self, keys: TenantKeys, key: str, lease: str, hold_seconds: float) -> bool:
        if not lease:
            return False
        try:
            return await self._store.release(keys, key, lease, hold_seconds)
        except CacheUnavailable:
            # The lease runs out on its own.
            return False

    async def ExactRelease(
        self, request: cache_pb2.ExactReleaseRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactReleaseResponse:
        return await self._release_call(_annotated_tenant(request.context), request)

    async def _release_call(
        self, tenant_id: str, request: cache_pb2.ExactReleaseRequest
    ) -> cache_pb2.ExactReleaseResponse:
        key = validation.key_hash(request.key)
        lease = validation.fill_lease(request.fill_lease, required=True)
        released = await self._give_back(self._keys(tenant_id), key, lease, 0.0)
        return cache_pb2.ExactReleaseResponse(released=released)

    async def ExactBatch(
        self, request: cache_pb2.ExactBatchRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactBatchResponse:
        calls = request.calls
        check_batch_size(calls)
        # The calls' tenants may differ: the RPC's log line names none of them, as for Settle.
        room = self._lookups_per_batch
        answers = []
        for call in calls:
            if call.WhichOneof("call") == "lookup":
                room -= 1
            answers.append(self._batch_call(call, has_room=room >= 0))
        results = await run_concurrently(answers)
        return cache_pb2.ExactBatchResponse(results=results)

    async def _batch_call(
        self, call: cache_pb2.ExactCall, *, has_room: bool
    ) -> cache_pb2.ExactCallResult:
        """One call of a batch, through the unary RPC's own method: its answer or its error."""
        kind = call.WhichOneof("call")
        if kind == "lookup" and not has_room:
            return cache_pb2.ExactCallResult(send_alone=_NO_ROOM)
        answer = await answer_or_refusal(self._run_batched(call), log, "ExactBatch")
        if isinstance(answer, ServiceError):
            return cache_pb2.ExactCallResult(
                error=cache_pb2.ExactCallError(**refusal_fields(answer))
            )
        if isinstance(answer, cache_pb2.ExactSendAlone):
            return cache_pb2.ExactCallResult(send_alone=answer)
        return cache_pb2.ExactCallResult(**{kind: answer})  # type: ignore[arg-type]

    async def _run_batched(
        self, call: cache_pb2.ExactCall
    ) -> (
        cache_pb2.ExactLookupResponse
        | cache_pb2.ExactSendAlone
        | cache_pb2.ExactStoreResponse
        | cache_pb2.ExactReleaseResponse
    ):
        kind = call.WhichOneof("call")
        if kind == "lookup":
            return await self._lookup_call(_tenant(call.lookup.context), call.lookup, None)
        if kind == "store":
            return await self._store_call(_tenant(call.store.context), call.store)
        if kind == "release":
            return await self._release_call(_tenant(call.release.context), call.release)
        raise invalid_argument("the call names no call: set lookup, store or release.", "")

    async def ExactInvalidate(
        self, request: cache_pb2.ExactInvalidateRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactInvalidateResponse:
        tenant_id = validation.tenant_id(request.tenant_id, "tenant_id")
        annotate(tenant=tenant_id)
        tags = validation.tags(
            request.tags,
            limit=validation.MAX_TAGS_PER_INVALIDATION,
            max_length=self._settings.max_tag_length,
        )
        keys = self._keys(tenant_id)
        batch = self._settings.invalidate_batch_size
        removed = 0
        try:
            if not tags:
                removed = await self._store.invalidate_tenant(keys, batch)
            for tag in tags:
                removed += await self._store.invalidate_tag(keys, tag, batch)
        except CacheUnavailable:
            raise unavailable(
                f"The cache store is unavailable; the invalidation stopped after removing at least "
                f"{removed} entries. Retry it.",
                removed=str(removed),
            ) from None
        return cache_pb2.ExactInvalidateResponse(removed=removed)

    async def ExactStats(
        self, request: cache_pb2.ExactStatsRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactStatsResponse:
        tenant_id = validation.tenant_id(request.tenant_id, "tenant_id")
        annotate(tenant=tenant_id)
        try:
            stats = await self._store.stats(self._keys(tenant_id))
        except CacheUnavailable:
            raise unavailable("The cache store is unavailable; stats cannot be read.") from None
        return cache_pb2.ExactStatsResponse(
            hits=stats.hits, misses=stats.misses, entries=stats.entries, bytes=stats.bytes
        )


def _tenant(context: common_pb2.RequestContext) -> str:
    return validation.tenant_id(context.tenant_id, "context.tenant_id")


def _annotated_tenant(context: common_pb2.RequestContext) -> str:
    """The call's tenant, checked, and named with its request id on the RPC's log line."""
    tenant_id = _tenant(context)
    annotate(tenant=tenant_id, request_id=context.request_id)
    return tenant_id
