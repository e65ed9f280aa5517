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

from dataclasses import dataclass
from urllib.parse import quote


def _encode(name: str) -> str:
    return quote(name, safe="")


@dataclass(frozen=True)
class TenantKeys:
    prefix: str
    tenant_id: str

    @property
    def base(self) -> str:
        return f"{self.prefix}:{{{_encode(self.tenant_id)}}}"

    @property
    def entry_prefix(self) -> str:
        return f"{self.base}:x:"

    def entry(self, key_hash: str) -> str:
        return self.entry_prefix + key_hash

    def lease(self, key_hash: str) -> str:
        return f"{self.base}:l:{key_hash}"

    def tag(self, tag: str) -> str:
        return f"{self.base}:t:{_encode(tag)}"

    @property
    def index(self) -> str:
        return f"{self.base}:idx"

    @property
    def meta(self) -> str:
        return f"{self.base}:meta"

    @property
    def bytes(self) -> str:
        return f"{self.base}:bytes"

    @property
    def invalidations(self) -> str:
        return f"{self.base}:inv"

    @property
    def stats(self) -> str:
        return f"{self.base}:stats"
