"""gRPC face of the semantic cache: validates requests, maps messages, maps store failures."""

from __future__ import annotations

import math
from collections.abc import Awaitable, Sequence
from typing import TypeVar

import grpc
from google.protobuf import timestamp_pb2

from tollgate.common.errors import invalid_argument, unavailable
from tollgate.common.interceptors import annotate
from tollgate.semantic_cache.cache import LookupResult, SemanticCache
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import StoreUnavailable
from tollgate.v1 import common_pb2, semantic_cache_pb2, semantic_cache_pb2_grpc

T = TypeVar("T")

_MAX_ID_CHARS = 256


class SemanticCacheServicer(semantic_cache_pb2_grpc.SemanticCacheServiceServicer):
    def __init__(self, settings: Settings, cache: SemanticCache) -> None:
        self._settings = settings
        self._cache = cache

    async def SemanticLookup(
        self, request: semantic_cache_pb2.SemanticLookupRequest, context: grpc.aio.ServicerContext
    ) -> semantic_cache_pb2.SemanticLookupResponse:
        _check_context(request.context)
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
        counters, entries = await _available(self._cache.stats(request.tenant_id))
        return semantic_cache_pb2.SemanticStatsResponse(
            hits=counters.hits,
            misses=counters.misses,
            rejected_near_misses=counters.rejected_near_misses,
            entries=entries,
            ineligible=counters.ineligible,
            stores=counters.stores,
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
    )
    if result.response is not None:
        out.response.CopyFrom(result.response)
    if result.entry is not None:
        out.entry_id = result.entry.id
        out.cached_at.CopyFrom(_timestamp(result.entry.created_at_ms))
    return out


def _timestamp(epoch_ms: int) -> timestamp_pb2.Timestamp:
    stamp = timestamp_pb2.Timestamp()
    stamp.FromMilliseconds(epoch_ms)
    return stamp
