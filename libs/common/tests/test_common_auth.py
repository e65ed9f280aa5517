"""API keys are stored hashed and resolve to their tenant; anything else is UNAUTHENTICATED."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from tollgate.common.auth import KeyRing, KeysFileError, Role, hash_api_key
from tollgate.common.errors import ServiceError


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        f"  - {{id: app, tenant: acme, sha256: {hash_api_key('secret-1')}}}\n"
        f"  - {{id: ops, tenant: ops, sha256: {hash_api_key('secret-2')}, role: operator}}\n"
    )
    return KeyRing.from_file(path)


def test_a_known_key_resolves_to_its_tenant(ring: KeyRing) -> None:
    key = ring.authenticate("Bearer secret-1")
    assert (key.id, key.tenant, key.admin) == ("app", "acme", False)
    assert ring.authenticate("bearer secret-2").admin


@pytest.mark.parametrize(
    ("header", "sentence"),
    [
        (None, "Missing API key"),
        ("Basic secret-1", "Malformed"),
        ("Bearer ", "Malformed"),
        ("Bearer secret-3", "Invalid API key"),
    ],
)
def test_anything_else_is_unauthenticated(ring: KeyRing, header: str | None, sentence: str) -> None:
    with pytest.raises(ServiceError) as caught:
        ring.authenticate(header)
    assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    assert sentence in caught.value.message


def test_a_key_file_with_a_plain_secret_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text("keys:\n  - {id: app, tenant: acme, sha256: not-a-hash}\n")
    with pytest.raises(KeysFileError, match="64 hex digits"):
        KeyRing.from_file(path)


@pytest.mark.parametrize(
    ("line", "sentence"),
    [
        # A quoted "false" is a non-empty string: read loosely, it would grant admin.
        ('admin: "false"', "'admin' must be true or false"),
        ("admin: yes please", "'admin' must be true or false"),
        ("role: root", "'role' must be one of"),
        ("role: app, admin: true", "contradicts"),
        ("scope: all", "unknown field 'scope'"),
    ],
)
def test_a_loosely_typed_key_entry_stops_the_load(tmp_path: Path, line: str, sentence: str) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(f"keys:\n  - {{id: app, tenant: acme, sha256: {hash_api_key('s')}, {line}}}\n")
    with pytest.raises(KeysFileError, match=sentence):
        KeyRing.from_file(path)


def test_roles_admin_is_a_tenant_admin_and_only_an_explicit_operator_spans_tenants(
    tmp_path: Path,
) -> None:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        f"  - {{id: a, tenant: acme, sha256: {hash_api_key('a')}, admin: true}}\n"
        f"  - {{id: b, tenant: acme, sha256: {hash_api_key('b')}, role: admin}}\n"
        f"  - {{id: c, tenant: ops, sha256: {hash_api_key('c')}, role: operator}}\n"
    )
    ring = KeyRing.from_file(path)
    for secret in ("a", "b"):
        key = ring.authenticate(f"Bearer {secret}")
        assert (key.role, key.admin, key.operator) == (Role.ADMIN, True, False)
    assert ring.authenticate("Bearer c").operator
