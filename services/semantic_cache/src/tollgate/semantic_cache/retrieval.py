"""How a lookup finds its candidates, and the full model's similarity of those that remain.

Two ways, one interface:

- `StaticRetrieval` (the default with the shipped model): entries are stored and searched by
  static vectors (`embedding/static.py`, a table lookup). Candidates above a loose floor go to
  the near-miss guard first; only those the guard lets through are compared with the full model
  (the question and those candidates' questions, embedded in one model call). A miss whose
  neighbours all differ in an unexplained way (a number, a name, a negation), or that has no
  neighbour near enough, never runs the model: most of a miss's CPU was that run.
- `ModelRetrieval`: entries are searched by the full model's vectors, so a candidate's search
  similarity is already the full model's (a custom model without a static table; tests with a
  stand-in embedder).

Either way a hit needs the guard and the full model's similarity at the threshold: the static
vectors decide which entries are examined, never which answer is served.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

import numpy as np

from tollgate.common.lru import LruCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder, Vector
from tollgate.semantic_cache.embedding.static import StaticEmbedder
from tollgate.semantic_cache.store.base import Candidate


class Retrieval(Protocol):
    @property
    def vector_name(self) -> str:
        """The model the stored vectors come from (collections are per model)."""
        ...

    @property
    def dimension(self) -> int: ...

    @property
    def search_similarity_is_final(self) -> bool:
        """Whether a candidate's search similarity is the full model's (the threshold's scale)."""
        ...

    def count_tokens(self, text: str) -> int:
        """The tokens the full model would see in `text`, [CLS] and [SEP] included."""
        ...

    async def vector(self, text: str) -> Vector:
        """The vector `text` is stored and searched by."""
        ...

    async def similarities(self, text: str, candidates: Sequence[Candidate]) -> list[float]:
        """The full model's cosine similarity of `text` to each candidate's question."""
        ...


class ModelRetrieval:
    """Search by the full model's vectors: the search similarity is the one a hit needs."""

    def __init__(self, embedder: BatchingEmbedder) -> None:
        self._embedder = embedder

    @property
    def vector_name(self) -> str:
        return self._embedder.model_name

    @property
    def dimension(self) -> int:
        return self._embedder.dimension

    @property
    def search_similarity_is_final(self) -> bool:
        return True

    def count_tokens(self, text: str) -> int:
        return self._embedder.count_tokens(text)

    async def vector(self, text: str) -> Vector:
        return await self._embedder.embed(text)

    async def similarities(self, text: str, candidates: Sequence[Candidate]) -> list[float]:
        return [c.similarity for c in candidates]


class StaticRetrieval:
    """Search by static vectors; confirm with the full model only what the guard let through."""

    def __init__(
        self,
        static: StaticEmbedder,
        embedder: BatchingEmbedder,
        *,
        cache_size: int = 10_000,
    ) -> None:
        self._static = static
        self._embedder = embedder
        # A question's token count (eligibility) and its vector, from one tokenization: a store
        # finds what its lookup computed moments before. The table's tokenizer is the model's.
        self._tokenized: LruCache[str, tuple[int, Vector]] = LruCache(cache_size)

    @property
    def vector_name(self) -> str:
        return self._static.name

    @property
    def dimension(self) -> int:
        return self._static.dimension

    @property
    def search_similarity_is_final(self) -> bool:
        return False

    def count_tokens(self, text: str) -> int:
        return self._tokenize(text)[0]

    async def vector(self, text: str) -> Vector:
        return self._tokenize(text)[1]

    def _tokenize(self, text: str) -> tuple[int, Vector]:
        found = self._tokenized.get(text)
        if found is None:
            ids = self._static.token_ids(text)
            found = (len(ids), self._static.embed_ids(ids))
            self._tokenized.put(text, found)
        return found

    async def similarities(self, text: str, candidates: Sequence[Candidate]) -> list[float]:
        if not candidates:
            return []
        vectors = await self._embedder.embed_many([text, *(c.entry.question for c in candidates)])
        asked = vectors[0]
        return [float(np.dot(asked, other)) for other in vectors[1:]]
