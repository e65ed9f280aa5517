"""The semantic cache itself: lookup, store, invalidation and statistics, free of gRPC.

Lookup: decide eligibility, take the nearest entries of the same tenant and scope that have not
expired (and whose answer fits the request's max_tokens), and serve the one the full model finds
most similar among those that reach the similarity threshold and pass the near-miss guard.
Several candidates are examined because a near-miss ("under $600k") may sit closer than the true
paraphrase. How entries are found, and when the full model runs, is `retrieval.py`.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import math
import random
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from google.protobuf.message import DecodeError

from tollgate.semantic_cache.eligibility import (
    EligibilityPolicy,
    Ineligible,
    Question,
    task_name,
)
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.guard import NearMissGuard, model_vocabulary
from tollgate.semantic_cache.retrieval import ModelRetrieval, Retrieval
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.stats import CacheStats, Outcome, TenantCounters
from tollgate.semantic_cache.store.base import CacheEntry, Candidate, SearchQuery, VectorStore
from tollgate.semantic_cache.store.search import qualifies
from tollgate.semantic_cache.verification.precision import PrecisionMonitor
from tollgate.v1 import common_pb2

log = logging.getLogger("tollgate.semantic_cache")

# Entry ids are derived from tenant, scope and question: storing the same question again
# replaces the entry instead of adding a duplicate.
_ENTRY_NAMESPACE = uuid.UUID("5b0a3f4e-8f0c-4a53-9d8e-6c1f2f7f9a10")
_STORABLE_STOPS = (common_pb2.STOP_REASON_END_TURN, common_pb2.STOP_REASON_STOP_SEQUENCE)


@dataclass(frozen=True)
class LookupResult:
    eligible: bool
    ineligible_reason: str = ""
    hit: bool = False
    # The answer that was served (on a hit).
    response: common_pb2.ClaudeResponse | None = None
    entry: CacheEntry | None = None
    similarity: float = 0.0
    matched_question: str = ""
    rejection: str = ""
    threshold: float = 0.0
    # The tenant's cache for this task is in shadow: the match is a would-be hit, not served.
    shadow: bool = False
    would_hit: bool = False
    shadow_response: common_pb2.ClaudeResponse | None = None
    # The gateway should verify this (would-be) hit against a fresh answer.
    verify: bool = False


@dataclass(frozen=True)
class StoreResult:
    stored: bool
    reason: str = ""
    entry_id: str = ""
    expires_at_ms: int = 0


class SemanticCache:
    def __init__(
        self,
        settings: Settings,
        embedder: BatchingEmbedder,
        store: VectorStore,
        *,
        guard: NearMissGuard | None = None,
        stats: CacheStats | None = None,
        precision: PrecisionMonitor | None = None,
        clock: Callable[[], float] = time.time,
        retrieval: Retrieval | None = None,
    ) -> None:
        self._settings = settings
        self._embedder = embedder
        self._retrieval = retrieval or ModelRetrieval(embedder)
        self._store = store
        self._guard = guard or NearMissGuard(model_vocabulary(settings.resolved_model_path()))
        self._stats = stats or CacheStats()
        # None: precision is not measured here; nothing is ever shadowed or sent to verify.
        self._precision = precision
        self._clock = clock
        self._policy = EligibilityPolicy(
            count_tokens=self._retrieval.count_tokens,
            max_tokens=settings.model_max_tokens,
            allow_multi_turn=settings.allow_multi_turn,
            ineligible_tasks=settings.ineligible_tasks,
        )

    @property
    def vector_store(self) -> VectorStore:
        return self._store

    @property
    def retrieval(self) -> Retrieval:
        return self._retrieval

    def _now_ms(self) -> int:
        return int(self._clock() * 1000)

    async def lookup(
        self,
        context: common_pb2.RequestContext,
        request: common_pb2.ClaudeRequest,
        template_version: str,
        min_similarity: float = 0.0,
    ) -> LookupResult:
        tenant = context.tenant_id
        task = task_name(context.task)
        question = self._policy.evaluate(context, request, template_version)
        if isinstance(question, Ineligible):
            self._stats.record_lookup(tenant, task, Outcome.INELIGIBLE)
            return LookupResult(eligible=False, ineligible_reason=question.reason)
        threshold = min_similarity if min_similarity > 0 else self._settings.threshold_for(task)
        vector = await self._retrieval.vector(question.text)
        query = SearchQuery(
            tenant=tenant,
            scope_key=question.scope.key(),
            now_ms=self._now_ms(),
            max_output_tokens=question.max_tokens,
            limit=self._settings.candidates,
        )
        candidates = await self._store.search(vector, query)
        result = await self._choose(
            question, sorted(candidates, key=lambda c: -c.similarity), threshold, query
        )
        if not result.hit:
            outcome = Outcome.REJECTED if result.rejection_by_guard else Outcome.MISS
            self._stats.record_lookup(tenant, task, outcome)
            return result.lookup
        if self._precision is not None and await self._precision.in_shadow(tenant, task):
            self._stats.record_lookup(tenant, task, Outcome.SHADOW_HIT)
            hit = result.lookup
            return dataclasses.replace(
                hit,
                hit=False,
                response=None,
                shadow=True,
                would_hit=True,
                shadow_response=hit.response,
                verify=True,
            )
        self._stats.record_lookup(tenant, task, Outcome.HIT)
        return dataclasses.replace(result.lookup, verify=self._sampled(tenant, context.request_id))

    def _sampled(self, tenant: str, request_id: str) -> bool:
        """Whether this served hit is among the tenant's fraction to verify; decided by the
        request id, so a retried lookup gets the same answer."""
        if self._precision is None:
            return False
        rate = self._settings.verify_rate_for(tenant)
        if rate <= 0 or rate >= 1:
            return rate >= 1
        if not request_id:
            return random.random() < rate
        digest = hashlib.sha256(f"{tenant}\x1f{request_id}".encode()).digest()
        return int.from_bytes(digest[:8], "big") / 2**64 < rate

    async def _choose(
        self, question: Question, found: Sequence[Candidate], threshold: float, query: SearchQuery
    ) -> _Choice:
        """The answer to serve from `found` (nearest first, `query`'s candidates), or why none:
        the guard first, then the full model's similarity of the candidates the guard let
        through."""
        # The search's similarity is on the threshold's scale only when it is the full model's;
        # a static search examines what clears the (looser) static floor.
        final = self._retrieval.search_similarity_is_final
        floor = threshold if final else self._settings.static_floor
        refused: tuple[Candidate, str] | None = None
        passed: list[Candidate] = []
        for candidate in found:
            if candidate.similarity < floor:
                break
            if self._settings.guard_enabled:
                rejection = self._guard.check(question.text, candidate.entry.question)
                if rejection is not None:
                    refused = refused or (candidate, rejection.reason)
                    continue
            passed.append(candidate)
        scored = await self._retrieval.similarities(question.text, passed)
        confirmed = sorted(zip(scored, passed, strict=True), key=lambda pair: -pair[0])
        # The similarity histogram is the full model's, of the nearest candidate it measured.
        if found and final:
            self._stats.record_similarity(found[0].similarity)
        elif confirmed:
            self._stats.record_similarity(confirmed[0][0])
        for similarity, candidate in confirmed:
            if similarity < threshold:
                break
            # The search left the answers out; the one to serve is read now. Since the search
            # it may have gone (invalidated, evicted, expired) or been stored again: checked again.
            entry = await self._store.entry(query.tenant, candidate.entry.id)
            if entry is None or not qualifies(entry, query):
                continue
            if _entry_bytes(entry.answer, entry.question) > self._settings.max_entry_bytes:
                continue  # stored under a larger limit: a batch's reply has no room for it
            response = _decode(entry)
            if response is None:
                continue
            return _Choice(
                LookupResult(
                    eligible=True,
                    hit=True,
                    response=response,
                    entry=entry,
                    similarity=similarity,
                    matched_question=entry.question,
                    threshold=threshold,
                ),
                rejection_by_guard=False,
            )
        if refused is not None:
            candidate, reason = refused
            return _Choice(
                LookupResult(
                    eligible=True,
                    similarity=candidate.similarity if final else 0.0,
                    matched_question=candidate.entry.question,
                    rejection=reason,
                    threshold=threshold,
                ),
                rejection_by_guard=True,
            )
        closest = confirmed[0] if confirmed else None
        if closest is None and found and final:
            closest = found[0].similarity, found[0]
        if closest is not None:
            similarity, candidate = closest
            return _Choice(
                LookupResult(
                    eligible=True,
                    similarity=similarity,
                    matched_question=candidate.entry.question,
                    rejection=(
                        f"similarity {similarity:.3f} is below the threshold {threshold:.3f}"
                    ),
                    threshold=threshold,
                ),
                rejection_by_guard=False,
            )
        return _Choice(LookupResult(eligible=True, threshold=threshold), rejection_by_guard=False)

    async def store(
        self,
        context: common_pb2.RequestContext,
        request: common_pb2.ClaudeRequest,
        template_version: str,
        response: common_pb2.ClaudeResponse,
        ttl_seconds: float,
        tags: Sequence[str],
    ) -> StoreResult:
        """Cache `response` as the answer to `request`; ttl_seconds 0 uses the default TTL."""
        tenant = context.tenant_id
        question = self._policy.evaluate(context, request, template_version)
        if isinstance(question, Ineligible):
            self._stats.record_store(tenant, stored=False)
            return StoreResult(stored=False, reason=question.reason)
        unfit = _unfit_answer(response)
        if unfit:
            self._stats.record_store(tenant, stored=False)
            return StoreResult(stored=False, reason=unfit)
        answer = response.SerializeToString(deterministic=True)
        size = _entry_bytes(answer, question.text)
        if size > self._settings.max_entry_bytes:
            self._stats.record_store(tenant, stored=False)
            return StoreResult(
                stored=False,
                reason=f"the answer and its question are {size} bytes; a cached entry may be at "
                f"most {self._settings.max_entry_bytes}",
            )
        ttl = ttl_seconds if ttl_seconds > 0 else self._settings.default_ttl_seconds
        ttl = min(ttl, self._settings.max_ttl_seconds)
        now_ms = self._now_ms()
        entry = CacheEntry(
            id=entry_id(tenant, question),
            tenant=tenant,
            scope=question.scope,
            question=question.text,
            answer=answer,
            tags=tuple(dict.fromkeys(tags)),
            created_at_ms=now_ms,
            expires_at_ms=now_ms + math.ceil(ttl * 1000),
            input_tokens=response.usage.input_tokens,
            output_tokens=response.usage.output_tokens,
            cache_read_input_tokens=response.usage.cache_read_input_tokens,
            cache_creation_input_tokens=response.usage.cache_creation_input_tokens,
            embedding_model=self._retrieval.vector_name,
        )
        vector = await self._retrieval.vector(question.text)
        size = await self._store.upsert(entry, vector)
        self._stats.record_store(tenant, stored=True)
        await self._keep_within_limit(tenant, size)
        return StoreResult(stored=True, entry_id=entry.id, expires_at_ms=entry.expires_at_ms)

    async def _keep_within_limit(self, tenant: str, size: int) -> None:
        """Evict the tenant's oldest entries past its limit, given its `size` (expired ones
        count: they are the oldest, and still take space until the sweep purges them)."""
        limit = self._settings.max_entries_for(tenant)
        excess = size - limit
        if excess > 0:
            evicted = await self._store.evict_oldest(tenant, excess)
            self._stats.record_evictions(tenant, evicted)
            log.info("evicted", extra={"tenant": tenant, "evicted": evicted, "limit": limit})

    async def invalidate(self, tenant: str, tags: Sequence[str]) -> int:
        removed = await self._store.delete(tenant, tags)
        log.info("invalidated", extra={"tenant": tenant, "tags": list(tags), "removed": removed})
        return removed

    async def stats(self, tenant: str) -> tuple[TenantCounters, int]:
        entries = await self._store.count(tenant, self._now_ms())
        return self._stats.snapshot(tenant), entries

    async def purge_expired(self) -> int:
        return await self._store.purge_expired(self._now_ms())


@dataclass(frozen=True)
class _Choice:
    lookup: LookupResult
    rejection_by_guard: bool

    @property
    def hit(self) -> bool:
        return self.lookup.hit


def entry_id(tenant: str, question: Question) -> str:
    name = f"{tenant}\x1f{question.scope.key()}\x1f{question.text}"
    return str(uuid.uuid5(_ENTRY_NAMESPACE, name))


def _entry_bytes(answer: bytes, question: str) -> int:
    return len(answer) + len(question.encode())


def _unfit_answer(response: common_pb2.ClaudeResponse) -> str:
    """Why `response` must not be served to other askers, or "" when it may."""
    if response.stop_reason not in _STORABLE_STOPS:
        return f"the answer did not finish normally (stop reason {_stop_name(response)})"
    if not response.content:
        return "the answer is empty"
    if any(b.WhichOneof("block") != "text" for b in response.content):
        return "the answer contains tool calls or non-text content"
    if not any(b.text.text.strip() for b in response.content):
        return "the answer is empty"
    return ""


def _stop_name(response: common_pb2.ClaudeResponse) -> str:
    try:
        return common_pb2.StopReason.Name(response.stop_reason)
    except ValueError:
        return str(response.stop_reason)


def _decode(entry: CacheEntry) -> common_pb2.ClaudeResponse | None:
    try:
        return common_pb2.ClaudeResponse.FromString(entry.answer)
    except DecodeError:
        log.error("unreadable cached answer skipped", extra={"entry_id": entry.id})
        return None
