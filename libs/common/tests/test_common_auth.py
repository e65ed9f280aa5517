"""API keys are stored hashed and resolve to their tenant; anything else is UNAUTHENTICATED."""

from __future__ import annotations

from pathlib import Path

import grpc
import pytest

from tollgate.common.auth import KeyRing, hash_api_key
from tollgate.common.errors import ServiceError


@pytest.fixture
def ring(tmp_path: Path) -> KeyRing:
    path = tmp_path / "keys.yaml"
    path.write_text(
        "keys:\n"
        f"  - {{id: app, tenant: acme, sha256: {hash_api_key('secret-1')}}}\n"
        f"  - {{id: ops, tenant: ops, sha256: {hash_api_key('secret-2')}, admin: true}}\n"
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
    with pytest.raises(ServiceError, match="needs a hex sha256"):
        KeyRing.from_file(path)
