"""Sticky percentage bucketing: the same flag, tenant and contact land in the same bucket on every
replica and after every restart, and raising a percentage only adds buckets."""

from __future__ import annotations

import hashlib


def bucket(key: str, tenant: str, contact: str) -> int:
    """A bucket in 0..99 from a stable hash (never Python's per-process salted `hash`)."""
    digest = hashlib.sha256(f"{key}\x1f{tenant}\x1f{contact}".encode()).digest()
    return int.from_bytes(digest[:8], "big") % 100


def in_rollout(key: str, tenant: str, contact: str, percent: int) -> bool:
    return bucket(key, tenant, contact) < percent
