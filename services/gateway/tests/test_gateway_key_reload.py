"""A key removed from the keys file (a revoked key in the mounted Secret) is refused within a
poll, with no restart; a broken file keeps the keys in force."""

from __future__ import annotations

import asyncio
import time
from pathlib import Path

import grpc
import pytest
import yaml

from tollgate.client import TollgateClient
from tollgate.common.auth import hash_api_key
from tollgate.common.testing import serving
from tollgate.gateway.key_file import KeyFile
from tollgate.gateway.service import build_service as build_gateway
from tollgate.gateway.settings import Settings as GatewaySettings
from tollgate.v1 import gateway_pb2

KEEP, REVOKE = "tg_key_kept_0123456789", "tg_key_revoked_0123456789"


def _write(path: Path, *keys: str) -> None:
    entries = [{"id": key[-6:], "tenant": "acme", "sha256": hash_api_key(key)} for key in keys]
    path.write_text(yaml.safe_dump({"keys": entries}))


async def _code(address: str, key: str) -> grpc.StatusCode:
    """What the gateway answers this key (an admin-only call: the key check comes first)."""
    async with TollgateClient(address, key) as client:
        try:
            await client.stub.GetEffectiveConfig(
                gateway_pb2.GetEffectiveConfigRequest(), metadata=client.metadata, timeout=5
            )
        except grpc.aio.AioRpcError as exc:
            return exc.code()
    return grpc.StatusCode.OK


async def test_a_revoked_key_is_refused_without_a_restart(tmp_path: Path) -> None:
    keys = tmp_path / "keys.yaml"
    _write(keys, KEEP, REVOKE)
    settings = GatewaySettings(
        host="127.0.0.1", port=0, api_keys_file=str(keys), flags_poll_seconds=0.1
    )
    async with serving(await build_gateway(settings), settings) as gateway:
        # Known keys get past authentication (a non-admin key is then refused as such).
        assert await _code(gateway.address, REVOKE) == grpc.StatusCode.PERMISSION_DENIED
        _write(keys, KEEP)
        started = time.monotonic()
        while await _code(gateway.address, REVOKE) != grpc.StatusCode.UNAUTHENTICATED:
            assert time.monotonic() - started < 5, "the revoked key was still accepted"
            await asyncio.sleep(0.05)
        assert await _code(gateway.address, KEEP) == grpc.StatusCode.PERMISSION_DENIED


def test_a_broken_keys_file_keeps_the_keys_in_force(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    keys = tmp_path / "keys.yaml"
    _write(keys, KEEP)
    ring = KeyFile(str(keys))
    keys.write_text("keys: [{id: x, tenant: acme, sha256: not-hex}]\n")
    assert not ring.reload()
    assert "refused the new API keys file" in caplog.text
    assert ring.authenticate(f"Bearer {KEEP}").tenant == "acme"
    keys.unlink()
    assert not ring.reload()
    assert ring.authenticate(f"Bearer {KEEP}").tenant == "acme"
