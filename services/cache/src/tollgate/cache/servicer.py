"""The CacheService RPCs: check the input, apply the policy, talk to Redis, explain the outcome.

Lookups and stores never fail because of Redis: a lookup becomes a miss, a store is skipped, and
the reason says so. Invalidation and stats do fail (UNAVAILABLE) when Redis is down, because the
caller must not believe entries were removed, or read numbers, that were not.
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
from tollgate.common.errors import invalid_argument, unavailable
from tollgate.common.interceptors import annotate
from tollgate.v1 import cache_pb2, cache_pb2_grpc, common_pb2

log = logging.getLogger("tollgate.cache")

_MISS_REASONS = {
    Outcome.FILL_PENDING: "an identical request is being answered by another caller",
    Outcome.WAIT_TIMED_OUT: "waited for an identical request's answer; it did not come in time",
    Outcome.UNCACHEABLE: "an identical request's answer was just found not cacheable",
    Outcome.DEGRADED: "the cache store is unavailable; answered as a miss",
}


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

    def _keys(self, tenant_id: str) -> TenantKeys:
        return tenant_keys(self._settings.key_prefix, tenant_id)

    async def ExactLookup(
        self, request: cache_pb2.ExactLookupRequest, context: grpc.aio.ServicerContext
    ) -> cache_pb2.ExactLookupResponse:
        tenant_id = validation.tenant_id(request.context.tenant_id, "context.tenant_id")
        annotate(tenant=tenant_id, request_id=request.context.request_id)
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
        )
        return self._lookup_response(key, result)

    def _wait_budget(self, asked: float, context: grpc.aio.ServicerContext) -> float:
        """What the caller asked for, within the configured cap and the call's own deadline
        (leaving room for the last look and the reply)."""
        budget = min(asked, self._settings.max_wait_for_fill_seconds)
        remaining = context.time_remaining()
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
        settings = self._settings
        tenant_id = validation.tenant_id(request.context.tenant_id, "context.tenant_id")
        annotate(tenant=tenant_id, request_id=request.context.request_id)
        task = validation.task_of(request.context)
        key = validation.key_hash(request.key)
        lease = validation.fill_lease(request.fill_lease)
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
        keys = self._keys(tenant_id)

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
        tenant_id = validation.tenant_id(request.context.tenant_id, "context.tenant_id")
        annotate(tenant=tenant_id, request_id=request.context.request_id)
        key = validation.key_hash(request.key)
        lease = validation.fill_lease(request.fill_lease, required=True)
        released = await self._give_back(self._keys(tenant_id), key, lease, 0.0)
        return cache_pb2.ExactReleaseResponse(released=released)

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
