"""SemanticVerify without gRPC: compare the two answers, record the verdict, report precision."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from tollgate.semantic_cache.eligibility import task_name
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.guard.lexicon import Lexicon
from tollgate.semantic_cache.verification.answers import AnswerComparison, compare_answers
from tollgate.semantic_cache.verification.precision import Precision, PrecisionMonitor
from tollgate.semantic_cache.verification.store import Verdict
from tollgate.v1 import common_pb2


@dataclass(frozen=True)
class VerifyResult:
    comparison: AnswerComparison
    precision: Precision
    recorded: bool


class Verifier:
    def __init__(
        self,
        embedder: BatchingEmbedder,
        monitor: PrecisionMonitor,
        lexicon: Lexicon,
        min_similarity: float,
        clock: Callable[[], float] = time.time,
    ) -> None:
        self._embedder = embedder
        self._monitor = monitor
        self._lexicon = lexicon
        self._min_similarity = min_similarity
        self._clock = clock

    @property
    def monitor(self) -> PrecisionMonitor:
        return self._monitor

    async def verify(
        self,
        context: common_pb2.RequestContext,
        entry_id: str,
        cached: common_pb2.ClaudeResponse,
        fresh: common_pb2.ClaudeResponse,
        shadow: bool,
    ) -> VerifyResult:
        cached_text, fresh_text = answer_text(cached), answer_text(fresh)
        # Answers longer than the model's window are compared on their first 256 tokens by
        # embedding; their numbers, names and negation are read whole.
        vectors = await self._embedder.embed_many([cached_text, fresh_text])
        similarity = float(np.dot(vectors[0], vectors[1]))
        comparison = compare_answers(
            cached_text, fresh_text, similarity, self._min_similarity, self._lexicon
        )
        verdict = Verdict(
            tenant=context.tenant_id,
            task=task_name(context.task),
            request_id=context.request_id,
            entry_id=entry_id,
            agreed=comparison.agreed,
            shadow=shadow,
            disagreement=comparison.disagreement,
            answer_similarity=similarity,
            created_at_ms=int(self._clock() * 1000),
        )
        recorded, precision = await self._monitor.record(verdict)
        return VerifyResult(comparison, precision, recorded)


def answer_text(response: common_pb2.ClaudeResponse) -> str:
    return "\n".join(b.text.text for b in response.content if b.WhichOneof("block") == "text")
