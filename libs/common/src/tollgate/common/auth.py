"""API keys: configured as SHA-256 hashes mapped to tenants; the secret itself is never stored.

A keys file (YAML) looks like:

    keys:
      - id: acme-crm            # appears in logs and reports, never the secret
        tenant: acme
        sha256: 9f86d08...      # hex SHA-256 of the key, see `hash_api_key`
        admin: false
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from pathlib import Path

import yaml

from tollgate.common.errors import invalid_argument, unauthenticated


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    sha256: str
    admin: bool = False


def hash_api_key(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


class KeyRing:
    """Resolves a presented bearer token to the key it belongs to."""

    def __init__(self, keys: list[ApiKey]) -> None:
        self._by_hash = {key.sha256: key for key in keys}

    def __len__(self) -> int:
        return len(self._by_hash)

    @classmethod
    def from_file(cls, path: str | Path) -> KeyRing:
        data = yaml.safe_load(Path(path).read_text()) or {}
        entries = data.get("keys", [])
        if not isinstance(entries, list):
            raise invalid_argument(f"{path}: 'keys' must be a list")
        keys = []
        for entry in entries:
            digest = str(entry.get("sha256", "")).lower()
            if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
                raise invalid_argument(f"{path}: key {entry.get('id')!r} needs a hex sha256")
            keys.append(
                ApiKey(
                    id=str(entry["id"]),
                    tenant=str(entry["tenant"]),
                    sha256=digest,
                    admin=bool(entry.get("admin", False)),
                )
            )
        return cls(keys)

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key for an `authorization: Bearer <key>` header, or UNAUTHENTICATED."""
        if not authorization:
            raise unauthenticated("Missing API key: send 'authorization: Bearer <key>' metadata.")
        scheme, _, secret = authorization.partition(" ")
        if scheme.lower() != "bearer" or not secret.strip():
            raise unauthenticated("Malformed authorization metadata: expected 'Bearer <key>'.")
        digest = hash_api_key(secret.strip())
        key = self._by_hash.get(digest)
        # The dict lookup is on a hash of the secret; compare in constant time all the same.
        if key is None or not hmac.compare_digest(key.sha256, digest):
            raise unauthenticated("Invalid API key.")
        return key
