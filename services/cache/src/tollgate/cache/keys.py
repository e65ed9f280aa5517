"""Redis key names of one tenant.

Every key of a tenant carries the tenant in a Redis Cluster hash tag (`{...}`), so all of them
live in one slot and the Lua scripts that touch several of them at once also run on a cluster.
The tenant id and tag names are percent-encoded: a `{`, `}` or `:` inside them can neither move
the hash tag nor make two different names collide.

    <prefix>:{<tenant>}:x:<hash>    the answer: a serialized ClaudeResponse, with a TTL
    <prefix>:{<tenant>}:l:<hash>    fill lease: "<issued µs>-<random>" or the uncacheable marker
    <prefix>:{<tenant>}:idx         sorted set: hash -> expiry (ms), the tenant's live entries
    <prefix>:{<tenant>}:meta        hash: hash -> {"s": bytes, "t": [tag keys]}
    <prefix>:{<tenant>}:bytes       total size of the indexed entries
    <prefix>:{<tenant>}:t:<tag>     sorted set: hash -> expiry (ms), entries with that tag
    <prefix>:{<tenant>}:inv         hash: "*" or tag key -> when it was last invalidated (ms)
    <prefix>:{<tenant>}:stats       hash: hits, misses
"""

from __future__ import annotations

from functools import lru_cache
from urllib.parse import quote


def _encode(name: str) -> str:
    return quote(name, safe="")


class TenantKeys:
    """The key names of one tenant, encoded once: every lookup and store names six to nine of
    them, and percent-encoding the tenant for each was a measurable part of a call's CPU."""

    __slots__ = (
        "_lease_prefix",
        "_tag_prefix",
        "base",
        "bytes",
        "entry_prefix",
        "index",
        "invalidations",
        "meta",
        "prefix",
        "stats",
        "tenant_id",
    )

    def __init__(self, prefix: str, tenant_id: str) -> None:
        self.prefix = prefix
        self.tenant_id = tenant_id
        self.base = f"{prefix}:{{{_encode(tenant_id)}}}"
        self.entry_prefix = f"{self.base}:x:"
        self._lease_prefix = f"{self.base}:l:"
        self._tag_prefix = f"{self.base}:t:"
        self.index = f"{self.base}:idx"
        self.meta = f"{self.base}:meta"
        self.bytes = f"{self.base}:bytes"
        self.invalidations = f"{self.base}:inv"
        self.stats = f"{self.base}:stats"

    def entry(self, key_hash: str) -> str:
        return self.entry_prefix + key_hash

    def lease(self, key_hash: str) -> str:
        return self._lease_prefix + key_hash

    def tag(self, tag: str) -> str:
        return self._tag_prefix + _encode(tag)


@lru_cache(maxsize=4096)
def tenant_keys(prefix: str, tenant_id: str) -> TenantKeys:
    """The (immutable in use) key names of a tenant, shared by its calls."""
    return TenantKeys(prefix, tenant_id)
