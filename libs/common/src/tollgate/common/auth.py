"""API keys: configured as SHA-256 hashes mapped to tenants; the secret itself is never stored.

A keys file (YAML) looks like:

    keys:
      - id: acme-crm            # appears in logs and reports, never the secret
        tenant: acme
        sha256: 9f86d08...      # hex SHA-256 of the key, see `hash_api_key`
        role: app               # app (default) | admin | operator

Roles: an `app` key completes, scores leads and reads its own tenant's usage; an `admin` key also
administers its own tenant (budgets, overrides, alerts, config, caches); an `operator` key
administers every tenant and is the only one that may name another tenant. `admin: true` is
accepted as the older spelling of `role: admin`, never of `operator`. The file is read strictly:
a quoted `"false"`, an unknown role or a missing field stops the load instead of granting access.
"""

from __future__ import annotations

import hashlib
import hmac
from dataclasses import dataclass
from enum import Enum
from pathlib import Path
from typing import Any

import yaml

from tollgate.common.errors import unauthenticated


class Role(Enum):
    APP = "app"
    ADMIN = "admin"
    OPERATOR = "operator"


@dataclass(frozen=True)
class KeyLimits:
    """What a managed key may use (keys of the file have none of their own). 0 or empty: no
    limit of the key's own; the tenant's and the configured ones still apply."""

    requests_per_minute: int = 0
    tokens_per_minute: int = 0
    allowed_models: frozenset[str] = frozenset()
    # tollgate.v1.TaskType values.
    allowed_tasks: frozenset[int] = frozenset()


@dataclass(frozen=True)
class ApiKey:
    id: str
    tenant: str
    sha256: str
    role: Role = Role.APP
    # Seconds since the epoch; None: never expires.
    expires_at: float | None = None
    limits: KeyLimits = KeyLimits()

    @property
    def admin(self) -> bool:
        """May call the admin methods (for its own tenant, unless it is an operator)."""
        return self.role in (Role.ADMIN, Role.OPERATOR)

    @property
    def operator(self) -> bool:
        """May act on any tenant."""
        return self.role is Role.OPERATOR


class KeysFileError(ValueError):
    """The keys file is not what `KeyRing.from_file` accepts; the message names the entry."""


def _text(entry: dict[str, Any], name: str, where: str) -> str:
    value = entry.get(name)
    if not isinstance(value, str) or not value.strip():
        raise KeysFileError(f"{where}: {name!r} must be a non-empty string")
    return value


def _role(entry: dict[str, Any], where: str) -> Role:
    admin = entry.get("admin", False)
    # YAML spells booleans unquoted; "false" in quotes is a string and must not read as true.
    if not isinstance(admin, bool):
        raise KeysFileError(f"{where}: 'admin' must be true or false (unquoted), got {admin!r}")
    if "role" not in entry:
        return Role.ADMIN if admin else Role.APP
    name = entry["role"]
    try:
        role = Role(name)
    except ValueError:
        choices = ", ".join(r.value for r in Role)
        raise KeysFileError(f"{where}: 'role' must be one of {choices}; got {name!r}") from None
    if admin and role is Role.APP:
        raise KeysFileError(f"{where}: 'admin: true' contradicts 'role: app'")
    return role


def parse_key(entry: Any, where: str) -> ApiKey:
    """One entry of the keys file, checked field by field."""
    if not isinstance(entry, dict):
        raise KeysFileError(f"{where}: each key must be a mapping")
    unknown = sorted(set(entry) - {"id", "tenant", "sha256", "admin", "role"})
    if unknown:
        raise KeysFileError(f"{where}: unknown field {unknown[0]!r}")
    digest = _text(entry, "sha256", where).lower()
    if len(digest) != 64 or any(c not in "0123456789abcdef" for c in digest):
        raise KeysFileError(f"{where}: 'sha256' must be 64 hex digits")
    return ApiKey(
        id=_text(entry, "id", where),
        tenant=_text(entry, "tenant", where),
        sha256=digest,
        role=_role(entry, where),
    )


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
        entries = data.get("keys", []) if isinstance(data, dict) else None
        if not isinstance(entries, list):
            raise KeysFileError(f"{path}: 'keys' must be a list")
        keys = [parse_key(entry, f"{path}: key {index}") for index, entry in enumerate(entries)]
        return cls(keys)

    def find(self, digest: str) -> ApiKey | None:
        """The key whose secret hashes to `digest`, if any."""
        key = self._by_hash.get(digest)
        # The dict lookup is on a hash of the secret; compare in constant time all the same.
        if key is None or not hmac.compare_digest(key.sha256, digest):
            return None
        return key

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key for an `authorization: Bearer <key>` header, or UNAUTHENTICATED."""
        key = self.find(bearer_digest(authorization))
        if key is None:
            raise unauthenticated("Invalid API key.")
        return key


def bearer_digest(authorization: str | None) -> str:
    """The hash of the secret in `Bearer <key>`, or UNAUTHENTICATED when there is none."""
    if not authorization:
        raise unauthenticated("Missing API key: send 'authorization: Bearer <key>' metadata.")
    scheme, _, secret = authorization.partition(" ")
    if scheme.lower() != "bearer" or not secret.strip():
        raise unauthenticated("Malformed authorization metadata: expected 'Bearer <key>'.")
    return hash_api_key(secret.strip())
