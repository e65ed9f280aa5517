"""gRPC face of the semantic cache: validates requests, maps messages, maps store failures.

SemanticBatch runs each of its calls through the same methods as the unary SemanticLookup and
SemanticStore (`_lookup`, `_store`), concurrently; each call gets its own result or its own
error. Its reply must fit in one message. A lookup's reply holds at most one stored entry (answer
and question, at most `max_entry_bytes`) and a rejection quoting words of that entry's question
and of the asked one, so a batch runs the lookups its reply has room for, in order, and answers
the rest `send_alone` (not run: nothing read, written or counted) for the caller to send alone.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import grpc
from google.protobuf import timestamp_pb2

from tollgate.common.batch_calls import (
    RESULTS_RESERVE_BYTES,
    answer_or_refusal,
    check_batch_size,
    refusal_fields,
    run_concurrently,
)
from tollgate.common.errors import ServiceError, invalid_argument, unavailable
from tollgate.common.interceptors import annotate
from tollgate.semantic_cache.cache import LookupResult, SemanticCache
from tollgate.semantic_cache.settings import TASK_NAMES, Settings
from tollgate.semantic_cache.store.base import StoreUnavailable
from tollgate.semantic_cache.verification.precision import Precision
from tollgate.semantic_cache.verification.verifier import Verifier, answer_text
from tollgate.v1 import common_pb2, semantic_cache_pb2, semantic_cache_pb2_grpc

T = TypeVar("T")

log = logging.getLogger("tollgate.semantic_cache")

_MAX_ID_CHARS = 256
# A lookup's reply besides its entry and its rejection: the fields' numbers, the entry id, the
# timestamps, the rejection's own words and the framing.
_LOOKUP_REPLY_OVERHEAD = 1024
_NO_ROOM = semantic_cache_pb2.SemanticSendAlone(
    reason="the batch holds more lookups than its reply has room for answers; send the lookup "
    "alone (SemanticLookup)"
)


class SemanticCacheServicer(semantic_cache_pb2_grpc.SemanticCacheServiceServicer):
    def __init__(self, settings: Settings, cache: SemanticCache, verifier: Verifier) -> None:
        self._settings = settings
        self._cache = cache
        self._verifier = verifier
        # The room a batch's reply has for its lookups' replies.
        self._lookup_room = settings.max_message_bytes - RESULTS_RESERVE_BYTES

    async def SemanticLookup(
        self, request: semantic_cache_pb2.SemanticLookupRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticLookupResponse:
        _check_context(request.context)
        _annotate(request.context)
        return await self._lookup(request)

    async def _lookup(
        self, request: semantic_cache_pb2.SemanticLookupRequest
    ) -> semantic_cache_pb2.SemanticLookupResponse:
        """The lookup of a request whose context was checked."""
        _check_request(request.request)
        _check_text(request.template_version, "template_version")
        threshold = request.min_similarity
        if math.isnan(threshold) or not 0 <= threshold <= 1:
            raise invalid_argument(
                "min_similarity must be between 0 and 1 (0 uses the task's threshold).",
                "min_similarity",
            )
        result = await _available(
            self._cache.lookup(
                request.context, request.request, request.template_version, threshold
            )
        )
        return _lookup_response(result)

    async def SemanticStore(
        self, request: semantic_cache_pb2.SemanticStoreRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticStoreResponse:
        _check_context(request.context)
        _annotate(request.context)
        return await self._store(request)

    async def _store(
        self, request: semantic_cache_pb2.SemanticStoreRequest
    ) -> semantic_cache_pb2.SemanticStoreResponse:
        """The store of a request whose context was checked."""
        _check_request(request.request)
        _check_text(request.template_version, "template_version")
        if not request.HasField("response"):
            raise invalid_argument("response is required: the answer to cache.", "response")
        ttl = request.ttl.seconds + request.ttl.nanos / 1e9
        if ttl < 0:
            raise invalid_argument("ttl must not be negative (0 uses the default TTL).", "ttl")
        self._check_tags(request.tags)
        result = await _available(
            self._cache.store(
                request.context,
                request.request,
                request.template_version,
                request.response,
                ttl,
                list(request.tags),
            )
        )
        response = semantic_cache_pb2.SemanticStoreResponse(
            stored=result.stored, reason=result.reason, entry_id=result.entry_id
        )
        if result.stored:
            response.expires_at.CopyFrom(_timestamp(result.expires_at_ms))
        return response

    async def SemanticBatch(
        self, request: semantic_cache_pb2.SemanticBatchRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticBatchResponse:
        calls = request.calls
        check_batch_size(calls)
        # The calls' tenants may differ: the RPC's log line names none of them, as for Settle.
        room = self._lookup_room
        first_lookup = True
        answers = []
        for call in calls:
            has_room = True
            if call.WhichOneof("call") == "lookup":
                needs = self._lookup_reply_bound(call.lookup)
                # The first lookup always runs: alone, its reply would be no smaller.
                has_room = first_lookup or room >= needs
                first_lookup = False
                room -= needs
            answers.append(self._batch_call(call, has_room=has_room))
        results = await run_concurrently(answers)
        return semantic_cache_pb2.SemanticBatchResponse(results=results)

    def _lookup_reply_bound(self, lookup: semantic_cache_pb2.SemanticLookupRequest) -> int:
        """The most a lookup's reply can take: one entry (its answer or its question) and a
        rejection naming what differs between the two questions. The rejection lists words of
        each, normalised and separated by commas, so it can take up to twice what it quotes."""
        quoted = self._settings.max_entry_bytes + lookup.ByteSize()
        return self._settings.max_entry_bytes + 2 * quoted + _LOOKUP_REPLY_OVERHEAD

    async def _batch_call(
        self, call: semantic_cache_pb2.SemanticCall, *, has_room: bool
    ) -> semantic_cache_pb2.SemanticCallResult:
        """One call of a batch, through the unary RPC's own method: its answer or its error."""
        kind = call.WhichOneof("call")
        if kind == "lookup" and not has_room:
            return semantic_cache_pb2.SemanticCallResult(send_alone=_NO_ROOM)
        answer = await answer_or_refusal(self._run_batched(call), log, "SemanticBatch")
        if isinstance(answer, ServiceError):
            error = semantic_cache_pb2.SemanticCallError(**refusal_fields(answer))
            return semantic_cache_pb2.SemanticCallResult(error=error)
        if isinstance(answer, semantic_cache_pb2.SemanticLookupResponse):
            return semantic_cache_pb2.SemanticCallResult(lookup=answer)
        return semantic_cache_pb2.SemanticCallResult(store=answer)

    async def _run_batched(
        self, call: semantic_cache_pb2.SemanticCall
    ) -> semantic_cache_pb2.SemanticLookupResponse | semantic_cache_pb2.SemanticStoreResponse:
        kind = call.WhichOneof("call")
        if kind == "lookup":
            _check_context(call.lookup.context)
            return await self._lookup(call.lookup)
        if kind == "store":
            _check_context(call.store.context)
            return await self._store(call.store)
        raise invalid_argument("the call names no call: set lookup or store.", "")

    async def SemanticInvalidate(
        self,
        request: semantic_cache_pb2.SemanticInvalidateRequest,
        context: grpc.aio.ServicerContext,
    ) -> semantic_cache_pb2.SemanticInvalidateResponse:
        _check_tenant(request.tenant_id, "tenant_id")
        self._check_tags(request.tags)
        removed = await _available(self._cache.invalidate(request.tenant_id, list(request.tags)))
        return semantic_cache_pb2.SemanticInvalidateResponse(removed=removed)

    async def SemanticStats(
        self, request: semantic_cache_pb2.SemanticStatsRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticStatsResponse:
        _check_tenant(request.tenant_id, "tenant_id")
        tenant = request.tenant_id
        counters, entries = await _available(self._cache.stats(tenant))
        monitor = self._verifier.monitor
        measured = [
            await _available(monitor.precision(tenant, task)) for task in sorted(TASK_NAMES)
        ]
        return semantic_cache_pb2.SemanticStatsResponse(
            hits=counters.hits,
            misses=counters.misses,
            rejected_near_misses=counters.rejected_near_misses,
            entries=entries,
            ineligible=counters.ineligible,
            stores=counters.stores,
            max_entries=self._settings.max_entries_for(tenant),
            evicted=counters.evicted,
            shadow_hits=counters.shadow_hits,
            precision=[_precision_message(p) for p in measured if p.verified or p.shadow],
        )

    async def SemanticVerify(
        self, request: semantic_cache_pb2.SemanticVerifyRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticVerifyResponse:
        _check_context(request.context)
        _annotate(request.context)
        if not request.context.request_id.strip():
            raise invalid_argument(
                "context.request_id is required: a verification is counted once per request.",
                "context.request_id",
            )
        _check_text(request.context.request_id, "context.request_id")
        _check_text(request.entry_id, "entry_id")
        for field in ("cached_response", "fresh_response"):
            if not answer_text(getattr(request, field)).strip():
                raise invalid_argument(f"{field} is required and must hold a text answer.", field)
        result = await _available(
            self._verifier.verify(
                request.context,
                request.entry_id,
                request.cached_response,
                request.fresh_response,
                request.shadow,
            )
        )
        return semantic_cache_pb2.SemanticVerifyResponse(
            agreed=result.comparison.agreed,
            disagreement=result.comparison.disagreement,
            answer_similarity=result.comparison.similarity,
            precision=_precision_message(result.precision),
            recorded=result.recorded,
        )

    def _check_tags(self, tags: Sequence[str]) -> None:
        if len(tags) > self._settings.max_tags:
            raise invalid_argument(
                f"at most {self._settings.max_tags} tags are allowed, got {len(tags)}.", "tags"
            )
        for index, tag in enumerate(tags):
            if not tag.strip():
                raise invalid_argument("tags must not be empty.", f"tags[{index}]")
            if len(tag) > self._settings.max_tag_chars:
                raise invalid_argument(
                    f"tags must be at most {self._settings.max_tag_chars} characters.",
                    f"tags[{index}]",
                )


def _check_context(context: common_pb2.RequestContext) -> None:
    _check_tenant(context.tenant_id, "context.tenant_id")


def _annotate(context: common_pb2.RequestContext) -> None:
    """Name the call's tenant and request in its RPC's log line, once the tenant is known to be
    valid. A batch's calls do not: its one line is for calls of many tenants."""
    annotate(tenant=context.tenant_id, request_id=context.request_id)


def _check_tenant(tenant_id: str, field: str) -> None:
    if not tenant_id.strip():
        raise invalid_argument(
            f"{field} is required: every cache entry belongs to a tenant.", field
        )
    _check_text(tenant_id, field)


def _check_text(value: str, field: str) -> None:
    if len(value) > _MAX_ID_CHARS:
        raise invalid_argument(f"{field} must be at most {_MAX_ID_CHARS} characters.", field)


def _check_request(request: common_pb2.ClaudeRequest) -> None:
    if not request.messages:
        raise invalid_argument("request.messages must hold at least one message.", "request")
    for index, message in enumerate(request.messages):
        if message.role not in (common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT):
            raise invalid_argument(
                "every message needs a role, user or assistant.",
                f"request.messages[{index}].role",
            )


async def _available(call: Awaitable[T]) -> T:
    try:
        return await call
    except StoreUnavailable as exc:
        raise unavailable(
            "The semantic cache's vector store is unreachable; treat this as a miss and retry "
            "later.",
            cause=str(exc)[:200],
        ) from exc


def _lookup_response(result: LookupResult) -> semantic_cache_pb2.SemanticLookupResponse:
    out = semantic_cache_pb2.SemanticLookupResponse(
        hit=result.hit,
        similarity=result.similarity,
        matched_question=result.matched_question,
        rejection=result.rejection,
        eligible=result.eligible,
        ineligible_reason=result.ineligible_reason,
        threshold=result.threshold,
        shadow=result.shadow,
        would_hit=result.would_hit,
        verify=result.verify,
    )
    if result.response is not None:
        out.response.CopyFrom(result.response)
    if result.shadow_response is not None:
        out.shadow_response.CopyFrom(result.shadow_response)
    if result.entry is not None:
        out.entry_id = result.entry.id
        out.cached_at.CopyFrom(_timestamp(result.entry.created_at_ms))
    return out


def _precision_message(found: Precision) -> semantic_cache_pb2.SemanticPrecision:
    return semantic_cache_pb2.SemanticPrecision(
        task=found.task,
        agreements=found.agreements,
        disagreements=found.disagreements,
        precision=found.precision,
        lower_bound=found.lower_bound,
        upper_bound=found.upper_bound,
        floor=found.floor,
        shadow=found.shadow,
        reason=found.reason,
    )


def _timestamp(epoch_ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(epoch_ms)
    return stamp
