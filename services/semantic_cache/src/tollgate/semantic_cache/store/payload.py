"""CacheEntry ⇄ the JSON payload stored beside each vector."""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from tollgate.semantic_cache.eligibility import Scope
from tollgate.semantic_cache.store.base import (
    ANSWER,
    CREATED_AT,
    EXPIRES_AT,
    OUTPUT_TOKENS,
    PARTITION,
    SCOPE_KEY,
    TAGS,
    TENANT,
    CacheEntry,
)
from tollgate.semantic_cache.store.search import partition_key


def to_payload(entry: CacheEntry) -> dict[str, Any]:
    scope_key = entry.scope.key()
    return {
        TENANT: entry.tenant,
        PARTITION: partition_key(entry.tenant, scope_key),
        SCOPE_KEY: scope_key,
        "scope": {
            "model": entry.scope.model,
            "system_hash": entry.scope.system_hash,
            "task": entry.scope.task,
            "template_version": entry.scope.template_version,
            "context_digest": entry.scope.context_digest,
        },
        TAGS: list(entry.tags),
        CREATED_AT: entry.created_at_ms,
        EXPIRES_AT: entry.expires_at_ms,
        "question": entry.question,
        ANSWER: base64.b64encode(entry.answer).decode("ascii"),
        "usage": {
            "input_tokens": entry.input_tokens,
            "output_tokens": entry.output_tokens,
            "cache_read_input_tokens": entry.cache_read_input_tokens,
            "cache_creation_input_tokens": entry.cache_creation_input_tokens,
        },
        OUTPUT_TOKENS: entry.output_tokens,
        "embedding_model": entry.embedding_model,
    }


def from_payload(point_id: object, payload: Mapping[str, Any]) -> CacheEntry:
    scope = payload["scope"]
    usage = payload.get("usage", {})
    return CacheEntry(
        id=str(point_id),
        tenant=payload[TENANT],
        scope=Scope(
            model=scope["model"],
            system_hash=scope["system_hash"],
            task=scope["task"],
            template_version=scope["template_version"],
            context_digest=scope["context_digest"],
        ),
        question=payload["question"],
        # Absent from a search's payloads (VectorStore.search).
        answer=base64.b64decode(payload[ANSWER]) if ANSWER in payload else b"",
        tags=tuple(payload.get(TAGS, ())),
        created_at_ms=int(payload[CREATED_AT]),
        expires_at_ms=int(payload[EXPIRES_AT]),
        input_tokens=int(usage.get("input_tokens", 0)),
        output_tokens=int(usage.get("output_tokens", payload.get(OUTPUT_TOKENS, 0))),
        cache_read_input_tokens=int(usage.get("cache_read_input_tokens", 0)),
        cache_creation_input_tokens=int(usage.get("cache_creation_input_tokens", 0)),
        embedding_model=payload.get("embedding_model", ""),
    )


def tenants_entry(
    tenant: str, records: Iterable[tuple[object, Mapping[str, Any] | None]]
) -> CacheEntry | None:
    """The entry among stored (point id, payload) records that is `tenant`'s, or None: an id
    that names another tenant's entry reads as gone, whoever asks with it."""
    for point_id, payload in records:
        entry = from_payload(point_id, payload or {})
        if entry.tenant == tenant:
            return entry
    return None
