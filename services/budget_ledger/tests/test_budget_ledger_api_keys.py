"""Managed API keys in the ledger: what is stored, the change feed, and every refusal."""

from __future__ import annotations

import asyncio
import hashlib
from datetime import UTC, datetime, timedelta

import grpc
import pytest
from google.protobuf.duration_pb2 import Duration
from google.protobuf.timestamp_pb2 import Timestamp

from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import common_pb2


def digest(secret: str) -> str:
    return hashlib.sha256(secret.encode()).hexdigest()


def store_request(name: str = "crm", secret: str = "s1", **fields: object) -> pb.StoreApiKeyRequest:
    values: dict[str, object] = {
        "tenant_id": "acme",
        "name": name,
        "role": pb.API_KEY_ROLE_APP,
        "secret_sha256": digest(secret),
        "actor": "ops",
    }
    values.update(fields)
    return pb.StoreApiKeyRequest(**values)  # type: ignore[arg-type]


async def changes(ledger, since: int = 0) -> pb.ListApiKeyChangesResponse:
    return await ledger.stub.ListApiKeyChanges(pb.ListApiKeyChangesRequest(since_revision=since))


async def test_a_key_is_stored_as_a_hash_with_its_limits_and_its_budget(ledger, db) -> None:
    limits = pb.ApiKeyLimits(
        requests_per_minute=60,
        tokens_per_minute=10_000,
        budget_micros=2_000_000,
        allowed_models=["claude-haiku-4-5", "claude-haiku-4-5"],
        allowed_tasks=[common_pb2.TASK_TYPE_CHAT],
    )
    created = (await ledger.stub.StoreApiKey(store_request(limits=limits))).key
    assert created.id.startswith("key_")
    assert created.revision > 0
    assert list(created.limits.allowed_models) == ["claude-haiku-4-5"]
    # A budget without a period is monthly, and it is the ledger's own API-key budget.
    assert created.limits.budget_period == pb.BUDGET_PERIOD_MONTH
    states = await ledger.states()
    assert [
        (s.budget.scope.kind, s.budget.scope.subject_id, s.budget.limit_micros) for s in states
    ] == [(pb.SCOPE_KIND_API_KEY, created.id, 2_000_000)]
    with pytest.raises(grpc.aio.AioRpcError) as over:
        await ledger.reserve("req-1", 2_000_001, api_key=created.id)
    assert over.value.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    row = await db.fetchrow("SELECT * FROM api_keys WHERE id = $1", created.id)
    assert row["secret_sha256"] == digest("s1")
    assert "s1" not in {str(v) for v in row.values()}
    audit = await db.fetch("SELECT action, actor FROM api_key_audit WHERE key_id = $1", created.id)
    assert [(a["action"], a["actor"]) for a in audit] == [("key_created", "ops")]


async def test_the_change_feed_follows_creates_revocations_and_rotations(ledger) -> None:
    first = (await ledger.stub.StoreApiKey(store_request("a", "s1"))).key
    second = (await ledger.stub.StoreApiKey(store_request("b", "s2"))).key
    assert second.revision > first.revision
    everything = await changes(ledger)
    assert [c.key.id for c in everything.changes] == [first.id, second.id]
    assert everything.revision == second.revision
    assert not everything.has_more

    revoked = (
        await ledger.stub.RevokeStoredApiKey(
            pb.RevokeStoredApiKeyRequest(tenant_id="acme", key_id=first.id, actor="ops")
        )
    ).key
    assert revoked.HasField("revoked_at")
    assert revoked.revision > second.revision
    rotated = (
        await ledger.stub.RotateStoredApiKey(
            pb.RotateStoredApiKeyRequest(
                tenant_id="acme",
                key_id=second.id,
                secret_sha256=digest("s3"),
                grace=Duration(seconds=60),
                actor="ops",
            )
        )
    ).key
    since = await changes(ledger, everything.revision)
    assert [c.key.id for c in since.changes] == [first.id, second.id]
    rotation = since.changes[1]
    assert (rotation.secret_sha256, rotation.previous_secret_sha256) == (digest("s3"), digest("s2"))
    left = rotation.previous_valid_until.ToDatetime(tzinfo=UTC) - datetime.now(UTC)
    assert timedelta(seconds=50) < left <= timedelta(seconds=61)
    assert rotated.HasField("rotated_at")
    assert (await changes(ledger, since.revision)).changes == []

    # Revoking again is a no-op: no new revision for replicas to fetch.
    again = await ledger.stub.RevokeStoredApiKey(
        pb.RevokeStoredApiKeyRequest(tenant_id="acme", key_id=first.id, actor="ops")
    )
    assert again.key.revision == revoked.revision
    live = await ledger.stub.ListStoredApiKeys(pb.ListStoredApiKeysRequest(tenant_id="acme"))
    assert [k.id for k in live.keys] == [second.id]
    every = await ledger.stub.ListStoredApiKeys(
        pb.ListStoredApiKeysRequest(tenant_id="acme", include_revoked=True)
    )
    assert {k.id for k in every.keys} == {first.id, second.id}


async def test_concurrent_changes_get_distinct_revisions_in_commit_order(ledger) -> None:
    replies = await asyncio.gather(
        *(ledger.stub.StoreApiKey(store_request(f"k{i}", f"s{i}")) for i in range(20))
    )
    revisions = sorted(r.key.revision for r in replies)
    assert len(set(revisions)) == 20
    feed = await ledger.stub.ListApiKeyChanges(pb.ListApiKeyChangesRequest(limit=7))
    assert len(feed.changes) == 7
    assert feed.has_more
    rest = await changes(ledger, feed.revision)
    assert [c.key.revision for c in [*feed.changes, *rest.changes]] == revisions


async def test_names_are_unique_among_a_tenants_live_keys(ledger) -> None:
    first = (await ledger.stub.StoreApiKey(store_request("crm", "s1"))).key
    with pytest.raises(grpc.aio.AioRpcError) as taken:
        await ledger.stub.StoreApiKey(store_request("crm", "s2"))
    assert taken.value.code() == grpc.StatusCode.ALREADY_EXISTS
    assert "already has a live key named 'crm'" in taken.value.details()
    with pytest.raises(grpc.aio.AioRpcError) as same_secret:
        await ledger.stub.StoreApiKey(store_request("other", "s1"))
    assert same_secret.value.code() == grpc.StatusCode.ALREADY_EXISTS
    # Another tenant may use the name, and a revoked key's name is free again.
    await ledger.stub.StoreApiKey(store_request("crm", "s3", tenant_id="globex"))
    await ledger.stub.RevokeStoredApiKey(
        pb.RevokeStoredApiKeyRequest(tenant_id="acme", key_id=first.id, actor="ops")
    )
    await ledger.stub.StoreApiKey(store_request("crm", "s4"))


async def test_another_tenants_key_is_not_found_and_operator_keys_need_an_operator(ledger) -> None:
    theirs = (await ledger.stub.StoreApiKey(store_request("x", "s1", tenant_id="globex"))).key
    for call in (
        ledger.stub.RevokeStoredApiKey(
            pb.RevokeStoredApiKeyRequest(tenant_id="acme", key_id=theirs.id, actor="a")
        ),
        ledger.stub.RotateStoredApiKey(
            pb.RotateStoredApiKeyRequest(
                tenant_id="acme", key_id=theirs.id, secret_sha256=digest("s9"), actor="a"
            )
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as missing:
            await call
        assert missing.value.code() == grpc.StatusCode.NOT_FOUND
    operator = (
        await ledger.stub.StoreApiKey(store_request("ops", "s2", role=pb.API_KEY_ROLE_OPERATOR))
    ).key
    with pytest.raises(grpc.aio.AioRpcError) as denied:
        await ledger.stub.RotateStoredApiKey(
            pb.RotateStoredApiKeyRequest(
                tenant_id="acme", key_id=operator.id, secret_sha256=digest("s3"), actor="a"
            )
        )
    assert denied.value.code() == grpc.StatusCode.PERMISSION_DENIED
    revoked = await ledger.stub.RevokeStoredApiKey(
        pb.RevokeStoredApiKeyRequest(
            tenant_id="acme", key_id=operator.id, actor="o", actor_is_operator=True
        )
    )
    assert revoked.key.HasField("revoked_at")
    with pytest.raises(grpc.aio.AioRpcError) as gone:
        await ledger.stub.RotateStoredApiKey(
            pb.RotateStoredApiKeyRequest(
                tenant_id="acme",
                key_id=operator.id,
                secret_sha256=digest("s4"),
                actor="o",
                actor_is_operator=True,
            )
        )
    assert gone.value.code() == grpc.StatusCode.FAILED_PRECONDITION


def _past() -> Timestamp:
    stamp = Timestamp()
    stamp.FromDatetime(datetime.now(UTC) - timedelta(seconds=1))
    return stamp


@pytest.mark.parametrize(
    ("fields", "field"),
    [
        ({"name": ""}, "name"),
        ({"tenant_id": ""}, "tenant_id"),
        ({"role": pb.API_KEY_ROLE_UNSPECIFIED}, "role"),
        ({"role": 42}, "role"),
        ({"secret_sha256": "abc"}, "secret_sha256"),
        ({"actor": ""}, "actor"),
        ({"expires_at": _past()}, "expires_at"),
        ({"limits": pb.ApiKeyLimits(requests_per_minute=-1)}, "limits.requests_per_minute"),
        ({"limits": pb.ApiKeyLimits(budget_micros=-5)}, "limits.budget_micros"),
        ({"limits": pb.ApiKeyLimits(budget_period=pb.BUDGET_PERIOD_DAY)}, "limits.budget_period"),
        ({"limits": pb.ApiKeyLimits(budget_micros=1, budget_period=9)}, "limits.budget_period"),
        ({"limits": pb.ApiKeyLimits(allowed_tasks=[0])}, "limits.allowed_tasks"),
        ({"limits": pb.ApiKeyLimits(allowed_models=["bad\nmodel"])}, "limits.allowed_models[0]"),
    ],
)
async def test_bad_keys_are_refused_and_nothing_is_written(ledger, db, fields, field) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as refused:
        await ledger.stub.StoreApiKey(store_request(**fields))
    assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert field.split("[")[0].split(".")[-1] in refused.value.details()
    assert await db.fetchval("SELECT count(*) FROM api_keys") == 0
    assert await db.fetchval("SELECT revision FROM api_key_revision") == 0


async def test_bad_rotations_and_feeds_are_refused(ledger) -> None:
    key = (await ledger.stub.StoreApiKey(store_request())).key
    for grace in (Duration(seconds=-1), Duration(seconds=31 * 86400)):
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await ledger.stub.RotateStoredApiKey(
                pb.RotateStoredApiKeyRequest(
                    tenant_id="acme", key_id=key.id, secret_sha256=digest("n"), grace=grace,
                    actor="ops",
                )
            )  # fmt: skip
        assert refused.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    with pytest.raises(grpc.aio.AioRpcError) as negative:
        await changes(ledger, -1)
    assert negative.value.code() == grpc.StatusCode.INVALID_ARGUMENT
