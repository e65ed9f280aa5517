"""The key directory: the file's keys beside the ledger's managed keys, refreshed from a real
ledger on real Postgres; revocation, expiry, rotation grace and a ledger that goes away."""

from __future__ import annotations

from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path

import grpc
import pytest
import yaml
from google.protobuf.duration_pb2 import Duration

from tollgate.budget_ledger.service import build_service as build_ledger
from tollgate.budget_ledger.settings import Settings as LedgerSettings
from tollgate.common.auth import KeyLimits, Role, hash_api_key
from tollgate.common.errors import ServiceError
from tollgate.common.testing import serving
from tollgate.gateway.key_directory import KeyDirectory
from tollgate.gateway.key_file import KeyFile
from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc

FILE_SECRET = "tg_file_key_secret_0123456789"


def key_file(tmp_path: Path) -> KeyFile:
    path = tmp_path / "keys.yaml"
    entry = {"id": "boot", "tenant": "ops", "sha256": hash_api_key(FILE_SECRET), "role": "operator"}
    path.write_text(yaml.safe_dump({"keys": [entry]}))
    return KeyFile(str(path))


def bearer(secret: str) -> str:
    return f"Bearer {secret}"


class Ledger:
    """A real ledger in this process, which the test can stop to play an outage."""

    def __init__(self, dsn: str) -> None:
        self.settings = LedgerSettings(
            host="127.0.0.1", port=0, database_url=dsn, migrate_on_start=True,
            pool_min_size=1, pool_max_size=4,
        )  # fmt: skip
        self.down = False
        self.stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub | None = None

    async def fetch(self, since: int) -> pb.ListApiKeyChangesResponse:
        if self.down:
            # What an unreachable ledger looks like to the directory: a real channel to a port
            # nothing listens on.
            async with grpc.aio.insecure_channel("127.0.0.1:9") as channel:
                stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
                return await stub.ListApiKeyChanges(
                    pb.ListApiKeyChangesRequest(since_revision=since), timeout=0.5
                )
        return await self.stub.ListApiKeyChanges(
            pb.ListApiKeyChangesRequest(since_revision=since), timeout=2
        )

    async def store(self, name: str, secret: str, **fields: object) -> pb.ManagedApiKey:
        values: dict[str, object] = {"role": pb.API_KEY_ROLE_APP, **fields}
        request = pb.StoreApiKeyRequest(
            tenant_id="acme", name=name, secret_sha256=hash_api_key(secret), actor="test",
            **values,  # type: ignore[arg-type]
        )  # fmt: skip
        return (await self.stub.StoreApiKey(request)).key

    async def revoke(self, key_id: str) -> None:
        await self.stub.RevokeStoredApiKey(
            pb.RevokeStoredApiKeyRequest(tenant_id="acme", key_id=key_id, actor="test")
        )


@pytest.fixture
async def ledger(postgres_dsn: str) -> AsyncIterator[Ledger]:
    handle = Ledger(postgres_dsn)
    async with (
        serving(await build_ledger(handle.settings), handle.settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        handle.stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
        yield handle


def refused(directory: KeyDirectory, secret: str) -> str:
    with pytest.raises(ServiceError) as error:
        directory.authenticate(bearer(secret))
    assert error.value.code == grpc.StatusCode.UNAUTHENTICATED
    return error.value.message


async def test_file_and_managed_keys_both_open_and_a_revocation_closes(ledger, tmp_path) -> None:
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch)
    limits = pb.ApiKeyLimits(allowed_models=["claude-haiku-4-5"], requests_per_minute=5)
    stored = await ledger.store("crm", "tg_managed_1", role=pb.API_KEY_ROLE_ADMIN, limits=limits)
    refused(directory, "tg_managed_1")  # not read yet
    assert await directory.refresh()
    key = directory.authenticate(bearer("tg_managed_1"))
    assert (key.id, key.tenant, key.role) == (stored.id, "acme", Role.ADMIN)
    assert key.limits.allowed_models == frozenset({"claude-haiku-4-5"})
    assert key.limits.requests_per_minute == 5
    assert directory.authenticate(bearer(FILE_SECRET)).id == "boot"
    assert refused(directory, "tg_nobody") == "Invalid API key."

    await ledger.revoke(stored.id)
    assert await directory.refresh()
    refused(directory, "tg_managed_1")
    assert directory.authenticate(bearer(FILE_SECRET)).id == "boot"


async def test_a_managed_keys_own_limits_are_found_by_its_tenant_and_id(ledger, tmp_path) -> None:
    """What a later admission of the same call (a session's history) applies."""
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch)
    limits = pb.ApiKeyLimits(tokens_per_minute=6000, requests_per_minute=7)
    stored = await ledger.store("crm", "tg_managed_limits", limits=limits)
    assert await directory.refresh()
    own = directory.limits_of("acme", stored.id)
    assert (own.tokens_per_minute, own.requests_per_minute) == (6000, 7)
    assert own == directory.authenticate(bearer("tg_managed_limits")).limits
    # Another tenant naming the same id, the file's keys and unknown ids get none of their own.
    assert directory.limits_of("globex", stored.id) == KeyLimits()
    assert directory.limits_of("ops", "boot") == KeyLimits()
    assert directory.limits_of("acme", "nope") == KeyLimits()
    await ledger.revoke(stored.id)
    assert await directory.refresh()
    assert directory.limits_of("acme", stored.id) == KeyLimits()


async def test_a_ledger_outage_keeps_the_snapshot_and_never_brings_a_revoked_key_back(
    ledger, tmp_path
) -> None:
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch)
    kept = await ledger.store("kept", "tg_kept")
    gone = await ledger.store("gone", "tg_gone")
    assert await directory.refresh()
    await ledger.revoke(gone.id)
    assert await directory.refresh()
    revision = directory.revision

    ledger.down = True
    for _ in range(3):
        assert not await directory.refresh()
    # Nobody locked out, nobody let back in, and the revision the directory follows from stays.
    assert directory.authenticate(bearer("tg_kept")).id == kept.id
    assert directory.authenticate(bearer(FILE_SECRET)).id == "boot"
    refused(directory, "tg_gone")
    assert directory.revision == revision

    ledger.down = False
    await ledger.revoke(kept.id)
    assert await directory.refresh()
    refused(directory, "tg_kept")
    refused(directory, "tg_gone")


async def test_expiry_and_the_end_of_a_rotation_grace_are_refused_by_the_clock(
    ledger, tmp_path
) -> None:
    now = [datetime.now(UTC).timestamp()]
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch, clock=lambda: now[0])
    expires = datetime.now(UTC) + timedelta(hours=1)
    stamp = pb.ManagedApiKey().created_at
    stamp.FromDatetime(expires)
    short = await ledger.store("short", "tg_short", expires_at=stamp)
    rotating = await ledger.store("rotating", "tg_old")
    await ledger.stub.RotateStoredApiKey(
        pb.RotateStoredApiKeyRequest(
            tenant_id="acme",
            key_id=rotating.id,
            secret_sha256=hash_api_key("tg_new"),
            actor="test",
            grace=Duration(seconds=600),
        )
    )
    assert await directory.refresh()
    assert directory.authenticate(bearer("tg_short")).id == short.id
    assert directory.authenticate(bearer("tg_old")).id == rotating.id
    assert directory.authenticate(bearer("tg_new")).id == rotating.id

    now[0] += 601  # past the grace, still before the expiry
    assert "rotated" in refused(directory, "tg_old")
    assert directory.authenticate(bearer("tg_new")).id == rotating.id
    assert directory.authenticate(bearer("tg_short")).id == short.id

    now[0] = expires.timestamp()
    assert "expired" in refused(directory, "tg_short")


async def test_a_rotation_without_grace_refuses_the_old_secret_at_once(ledger, tmp_path) -> None:
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch)
    key = await ledger.store("crm", "tg_before")
    await ledger.stub.RotateStoredApiKey(
        pb.RotateStoredApiKeyRequest(
            tenant_id="acme", key_id=key.id, secret_sha256=hash_api_key("tg_after"), actor="t"
        )
    )
    assert await directory.refresh()
    refused(directory, "tg_before")
    assert directory.authenticate(bearer("tg_after")).id == key.id


async def test_many_changes_are_read_in_pages(ledger, tmp_path) -> None:
    directory = KeyDirectory(key_file(tmp_path), ledger.fetch)
    pages: list[int] = []

    async def paged(since: int) -> pb.ListApiKeyChangesResponse:
        pages.append(since)
        return await ledger.stub.ListApiKeyChanges(
            pb.ListApiKeyChangesRequest(since_revision=since, limit=2)
        )

    directory._fetch = paged
    for index in range(5):
        await ledger.store(f"k{index}", f"tg_k{index}")
    assert await directory.refresh()
    assert len(directory) == 5
    assert len(pages) == 3


def _change(key_id: str, secret: str, revision: int, revoked: bool = False) -> pb.ApiKeyChange:
    change = pb.ApiKeyChange(
        key=pb.ManagedApiKey(
            id=key_id, tenant_id="acme", role=pb.API_KEY_ROLE_APP, revision=revision
        ),
        secret_sha256=hash_api_key(secret),
    )
    if revoked:
        change.key.revoked_at.GetCurrentTime()
    return change


def test_a_stale_or_replayed_change_never_revives_a_revoked_key(tmp_path) -> None:
    directory = KeyDirectory(key_file(tmp_path), None)
    directory.apply([_change("key_a", "tg_a", 1), _change("key_b", "tg_b", 2)])
    directory.apply([_change("key_a", "tg_a", 3, revoked=True)])
    # An older reply arriving late (two refreshes racing), and the same change again.
    directory.apply([_change("key_a", "tg_a", 1), _change("key_a", "tg_a", 4)])
    refused(directory, "tg_a")
    # An older change of a live key does not undo a newer one (a rotation).
    directory.apply([_change("key_b", "tg_b2", 5)])
    directory.apply([_change("key_b", "tg_b", 2)])
    refused(directory, "tg_b")
    assert directory.authenticate(bearer("tg_b2")).id == "key_b"
