"""The vector store interface the cache is written against, and the records it keeps."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
import numpy.typing as npt

from tollgate.semantic_cache.eligibility import Scope

VECTOR_NAME = "question"

# Payload fields that filters read; both stores index them.
TENANT = "tenant"
# A digest of tenant and scope: the one indexed condition a search puts in the engine's filter.
PARTITION = "partition"
SCOPE_KEY = "scope_key"
TAGS = "tags"
EXPIRES_AT = "expires_at"
OUTPUT_TOKENS = "output_tokens"
CREATED_AT = "created_at"
# Left out of a search's payloads: only the answer a lookup serves is read (`VectorStore.entry`).
ANSWER = "answer"
KEYWORD_FIELDS = (PARTITION, TAGS)
INTEGER_FIELDS = (EXPIRES_AT, OUTPUT_TOKENS, CREATED_AT)


class StoreUnavailable(RuntimeError):
    """The vector store could not be reached or refused the operation."""


@dataclass(frozen=True)
class CacheEntry:
    """One cached answer and what it answers."""

    id: str
    tenant: str
    scope: Scope
    question: str
    # A serialized tollgate.v1.ClaudeResponse; b"" in a search's candidates (see VectorStore).
    answer: bytes
    tags: tuple[str, ...]
    created_at_ms: int
    expires_at_ms: int
    input_tokens: int
    output_tokens: int
    cache_read_input_tokens: int
    cache_creation_input_tokens: int
    embedding_model: str


@dataclass(frozen=True)
class SearchQuery:
    tenant: str
    scope_key: str
    now_ms: int
    # Only answers no longer than this; 0 accepts any length.
    max_output_tokens: int
    limit: int


@dataclass(frozen=True)
class Candidate:
    entry: CacheEntry
    similarity: float


class VectorStore(Protocol):
    """Where entries live. Every read and delete is scoped to one tenant, except the sweep."""

    @property
    def collection(self) -> str: ...

    async def open(self) -> None: ...

    async def close(self) -> None: ...

    async def upsert(self, entry: CacheEntry, vector: npt.NDArray[np.float32]) -> int:
        """Store one entry; returns the tenant's `size` after it (a store is followed by the
        check of the tenant's entry limit, so the two go together)."""
        ...

    async def upsert_many(
        self, entries: Sequence[CacheEntry], vectors: npt.NDArray[np.float32]
    ) -> None:
        """Store many entries at once; `vectors` has one row per entry."""
        ...

    async def search(self, vector: npt.NDArray[np.float32], query: SearchQuery) -> list[Candidate]:
        """The `query.limit` nearest qualifying entries, nearest first, without their answers
        (`answer` is b""): a lookup examines ten and serves at most one, whose answer it reads
        with `entry`."""
        ...

    async def entry(self, tenant: str, entry_id: str) -> CacheEntry | None:
        """The tenant's entry `entry_id`, answer included; None when it is gone (or not the
        tenant's)."""
        ...

    async def delete(self, tenant: str, tags: Sequence[str]) -> int:
        """Remove the tenant's entries carrying any of `tags` (all of them when empty)."""
        ...

    async def purge_expired(self, now_ms: int) -> int: ...

    async def count(self, tenant: str, now_ms: int) -> int:
        """The tenant's entries that have not expired at now_ms."""
        ...

    async def size(self, tenant: str) -> int:
        """Every entry the tenant holds, expired ones included: what its entry limit counts.
        Asked after every store, so it must not scan the tenant's entries."""
        ...

    async def evict_oldest(self, tenant: str, count: int) -> int:
        """Remove the tenant's `count` oldest entries (by creation); returns how many."""
        ...

    async def maintain(self) -> None:
        """Housekeeping the sweep runs now and then (compaction); may do nothing."""
        ...


# The layout of the points' payloads; a new layout starts new collections (it is a cache: entries
# stored under an older layout are simply not used). v2 added PARTITION.
SCHEMA_VERSION = 2


def collection_name(prefix: str, model: str, dimension: int) -> str:
    """A collection per embedding model (vectors of different models are never compared) and
    per payload layout."""
    return f"{prefix}__{model}__{dimension}__v{SCHEMA_VERSION}"
