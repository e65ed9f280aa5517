"""Attacks on managed keys, through a real suite (ledger on Postgres, Redis, both doors): tenant
admins reaching other tenants, privilege climbs to operator, an expired or rotated-away secret,
a key limited to one model asking for another, per-key rate limits and budgets, and the secret
turning up in a log."""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import grpc
import httpx
import pytest
from google.protobuf.duration_pb2 import Duration

from tests.conftest import (
    ADMIN_KEY,
    ALL_ON,
    API_KEY,
    TENANT_ADMIN_KEY,
    FullSuite,
    running_full_suite,
)
from tests.security.conftest import question
from tollgate.client import TollgateClient, TollgateError
from tollgate.common.pricing import PriceTable
from tollgate.emulator import EmulatorServer
from tollgate.emulator.config import FaultKind, ScriptedFault
from tollgate.v1 import budget_ledger_pb2 as ledger_pb
from tollgate.v1 import classification_pb2 as c
from tollgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc
from tollgate.v1 import lead_scoring_pb2 as lead_pb

ALLOWED_MODEL = "claude-haiku-4-5"
OTHER_MODEL = "claude-sonnet-5-5"


@pytest.fixture
async def keys_suite(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> AsyncIterator[FullSuite]:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        ALL_ON,
        http_enabled=True,
        http_port=0,
        rate_limit_redis_url=redis_url,
        rate_limit_key_prefix=f"{redis_namespace}:rl",
        sessions_redis_url=redis_url,
        sessions_key_prefix=f"{redis_namespace}:sessions",
        managed_keys_refresh_seconds=0.2,
    ) as suite:
        yield suite


async def admin_call(suite: FullSuite, secret: str, method: str, request: Any) -> Any:
    async with grpc.aio.insecure_channel(suite.gateway.address) as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        return await getattr(stub, method)(
            request, metadata=(("authorization", f"Bearer {secret}"),), timeout=10
        )


async def refused(suite: FullSuite, secret: str, method: str, request: Any) -> grpc.StatusCode:
    with pytest.raises(grpc.aio.AioRpcError) as error:
        await admin_call(suite, secret, method, request)
    assert error.value.details(), "every refusal says why"
    return error.value.code()


async def create(
    suite: FullSuite, secret: str = ADMIN_KEY, **fields: Any
) -> gateway_pb2.CreateApiKeyResponse:
    values: dict[str, Any] = {"tenant_id": "acme", "name": "crm", **fields}
    request = gateway_pb2.CreateApiKeyRequest(**values)
    reply: gateway_pb2.CreateApiKeyResponse = await admin_call(
        suite, secret, "CreateApiKey", request
    )
    return reply


async def complete(suite: FullSuite, secret: str, model: str = ALLOWED_MODEL) -> None:
    async with TollgateClient(suite.gateway.address, secret) as client:
        await client.complete(**question(f"hello {datetime.now(UTC).timestamp()}", model=model))


async def complete_refusal(suite: FullSuite, secret: str, **extra: Any) -> TollgateError:
    with pytest.raises(TollgateError) as caught:
        await complete(suite, secret, **extra)
    return caught.value


async def http(suite: FullSuite, method: str, path: str, secret: str, **kw: Any) -> httpx.Response:
    async with httpx.AsyncClient(base_url=suite.http_url, timeout=30) as client:
        return await client.request(method, path, headers={"x-api-key": secret}, **kw)


async def http_message(suite: FullSuite, secret: str, model: str) -> httpx.Response:
    body = {"model": model, "max_tokens": 50, "messages": [{"role": "user", "content": "hi"}]}
    return await http(suite, "POST", "/v1/messages", secret, json=body)


async def test_a_tenant_admin_cannot_reach_another_tenants_keys(keys_suite) -> None:
    suite = keys_suite
    theirs = await create(suite, ADMIN_KEY, tenant_id="globex", name="globex-crm")
    for method, request in (
        ("ListApiKeys", gateway_pb2.ListApiKeysRequest(tenant_id="globex")),
        ("CreateApiKey", gateway_pb2.CreateApiKeyRequest(tenant_id="globex", name="mine")),
        ("RevokeApiKey", gateway_pb2.RevokeApiKeyRequest(tenant_id="globex", key_id=theirs.key.id)),
        ("RotateApiKey", gateway_pb2.RotateApiKeyRequest(tenant_id="globex", key_id=theirs.key.id)),
    ):
        assert await refused(suite, TENANT_ADMIN_KEY, method, request) == (
            grpc.StatusCode.PERMISSION_DENIED
        ), method
    # Naming the key without the tenant reaches the admin's own tenant, where it is not.
    for method, request in (
        ("RevokeApiKey", gateway_pb2.RevokeApiKeyRequest(key_id=theirs.key.id)),
        ("RotateApiKey", gateway_pb2.RotateApiKeyRequest(key_id=theirs.key.id)),
    ):
        assert await refused(suite, TENANT_ADMIN_KEY, method, request) == (
            grpc.StatusCode.NOT_FOUND
        ), method
    own = await admin_call(suite, TENANT_ADMIN_KEY, "ListApiKeys", gateway_pb2.ListApiKeysRequest())
    assert [k.tenant_id for k in own.keys] == []
    # The HTTP door says the same.
    response = await http(
        suite, "GET", "/v1/tollgate/keys", TENANT_ADMIN_KEY, params={"tenant_id": "globex"}
    )
    assert response.status_code == 403
    assert response.json()["error"]["type"] == "permission_error"
    # And the other tenant's key still works.
    await asyncio.sleep(0.5)
    await complete(suite, theirs.secret)


async def test_no_climb_to_operator_and_app_keys_administer_nothing(keys_suite) -> None:
    suite = keys_suite
    code = await refused(
        suite,
        TENANT_ADMIN_KEY,
        "CreateApiKey",
        gateway_pb2.CreateApiKeyRequest(name="root", role=ledger_pb.API_KEY_ROLE_OPERATOR),
    )
    assert code == grpc.StatusCode.PERMISSION_DENIED
    operator = await create(suite, ADMIN_KEY, name="ops2", role=ledger_pb.API_KEY_ROLE_OPERATOR)
    # Rotating an operator key of one's own tenant would hand out its secret.
    rotate = gateway_pb2.RotateApiKeyRequest(key_id=operator.key.id)
    assert await refused(suite, TENANT_ADMIN_KEY, "RotateApiKey", rotate) == (
        grpc.StatusCode.PERMISSION_DENIED
    )
    assert (
        await refused(
            suite,
            TENANT_ADMIN_KEY,
            "RevokeApiKey",
            gateway_pb2.RevokeApiKeyRequest(key_id=operator.key.id),
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )
    for method, request in (
        ("CreateApiKey", gateway_pb2.CreateApiKeyRequest(name="x")),
        ("ListApiKeys", gateway_pb2.ListApiKeysRequest()),
        ("RevokeApiKey", gateway_pb2.RevokeApiKeyRequest(key_id=operator.key.id)),
        ("RotateApiKey", gateway_pb2.RotateApiKeyRequest(key_id=operator.key.id)),
    ):
        assert await refused(suite, API_KEY, method, request) == (
            grpc.StatusCode.PERMISSION_DENIED
        ), method
    # A managed admin key is an admin of its tenant, no more.
    admin = await create(suite, TENANT_ADMIN_KEY, name="admin2", role=ledger_pb.API_KEY_ROLE_ADMIN)
    await asyncio.sleep(0.5)
    listing = await admin_call(suite, admin.secret, "ListApiKeys", gateway_pb2.ListApiKeysRequest())
    assert {k.name for k in listing.keys} == {"ops2", "admin2"}
    assert (
        await refused(
            suite, admin.secret, "ListApiKeys", gateway_pb2.ListApiKeysRequest(tenant_id="globex")
        )
        == grpc.StatusCode.PERMISSION_DENIED
    )


async def test_a_key_limited_to_one_model_is_refused_another_on_both_doors(keys_suite) -> None:
    suite = keys_suite
    limits = ledger_pb.ApiKeyLimits(allowed_models=[ALLOWED_MODEL])
    made = await create(suite, TENANT_ADMIN_KEY, limits=limits)
    await complete(suite, made.secret, model=ALLOWED_MODEL)
    error = await complete_refusal(suite, made.secret, model=OTHER_MODEL)
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert f"may not use model '{OTHER_MODEL}'" in error.message
    response = await http_message(suite, made.secret, OTHER_MODEL)
    assert response.status_code == 403
    assert response.json() == {
        "type": "error",
        "error": {"type": "permission_error", "message": error.message},
    }
    assert (await http_message(suite, made.secret, ALLOWED_MODEL)).status_code == 200


async def test_a_key_limited_to_a_task_is_refused_another(keys_suite) -> None:
    suite = keys_suite
    limits = ledger_pb.ApiKeyLimits(allowed_tasks=[common_pb2.TASK_TYPE_CLASSIFICATION])
    made = await create(suite, TENANT_ADMIN_KEY, limits=limits)
    error = await complete_refusal(suite, made.secret)  # a chat
    assert error.code == grpc.StatusCode.PERMISSION_DENIED
    assert "may not run task 'chat'" in error.message


async def classify_refusal(suite: FullSuite, secret: str, model: str) -> grpc.aio.AioRpcError:
    """A one-item Classify run naming `model`; the refusal it ends with."""
    request = gateway_pb2.ClassifyRequest(
        instructions=c.ClassificationInstructions(
            prompt="The lead's role", labels=c.LabelSet(labels=["buyer", "seller"]), model=model
        ),
        items=[c.ClassificationItem(id="a", text="Wants to list the house")],
    )
    async with grpc.aio.insecure_channel(suite.gateway.address) as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        with pytest.raises(grpc.aio.AioRpcError) as error:
            async for _ in stub.Classify(
                request, metadata=(("authorization", f"Bearer {secret}"),), timeout=30
            ):
                pass
    return error.value


async def test_classify_holds_a_key_to_its_models_and_tasks(keys_suite) -> None:
    suite = keys_suite
    chat_only = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="chat-only",
        limits=ledger_pb.ApiKeyLimits(allowed_tasks=[common_pb2.TASK_TYPE_CHAT]),
    )
    error = await classify_refusal(suite, chat_only.secret, ALLOWED_MODEL)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert "may not run task 'classification'" in (error.details() or "")
    one_model = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="one-model",
        limits=ledger_pb.ApiKeyLimits(allowed_models=[ALLOWED_MODEL]),
    )
    error = await classify_refusal(suite, one_model.secret, OTHER_MODEL)
    assert error.code() == grpc.StatusCode.PERMISSION_DENIED
    assert f"may not use model '{OTHER_MODEL}'" in (error.details() or "")


async def test_a_classify_run_counts_its_tokens_against_the_keys_limit(keys_suite) -> None:
    """A packed run is one request but calls Claude once per chunk: its chunks' tokens count
    against the key's tokens per minute, so no run spends past the limit."""
    suite = keys_suite
    limited = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="few-tokens",
        limits=ledger_pb.ApiKeyLimits(tokens_per_minute=50),
    )
    calls_before = suite.upstream_calls()
    error = await classify_refusal(suite, limited.secret, ALLOWED_MODEL)
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    details = error.details() or ""
    assert "Stopped after answering 0 of 1 items" in details
    assert "50 tokens per minute allowed for this API key; send fewer or shorter items" in details
    assert suite.upstream_calls() == calls_before


def test_the_models_checked_for_lead_reasoning_are_those_the_orchestrator_may_use() -> None:
    """The gateway checks a key against the role models; the orchestrator, by default, routes
    lead analysis to a model and falls back to others: those must be the same set."""
    from tollgate.orchestrator.settings import Settings as OrchestratorSettings

    routing = OrchestratorSettings()
    used = {routing.task_models["lead_analysis"], *routing.task_fallbacks["lead_analysis"]}
    assert sorted(used) == PriceTable.load().role_models


async def test_lead_reasoning_never_runs_on_a_model_the_key_may_not_use(keys_suite) -> None:
    """Lead reasoning names no model (the orchestrator routes it: small, the default as
    fallback): a key limited to other models is refused it, with a sentence, before Claude is
    asked; it may still score without reasoning, and a key allowed those models gets reasoning."""
    suite = keys_suite
    one_model = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="one-model",
        limits=ledger_pb.ApiKeyLimits(allowed_models=[ALLOWED_MODEL]),
    )
    lead = lead_pb.Lead(
        profile=lead_pb.LeadProfile(lead_id="lead-1", name="Maria Lopez", source="web"),
        answers=lead_pb.QualificationAnswers(budget="$450,000", timeline="3 months"),
    )
    calls_before = suite.upstream_calls()
    async with grpc.aio.insecure_channel(suite.gateway.address) as channel:
        stub = gateway_pb2_grpc.GatewayServiceStub(channel)
        metadata = (("authorization", f"Bearer {one_model.secret}"),)
        one = gateway_pb2.ScoreLeadRequest(lead=lead, with_reasoning=True)
        many = gateway_pb2.ScoreLeadsRequest(leads=[lead], with_reasoning=True)
        refusals = []
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            await stub.ScoreLead(one, metadata=metadata, timeout=10)
        refusals.append(refused.value)
        with pytest.raises(grpc.aio.AioRpcError) as refused:
            [item async for item in stub.ScoreLeads(many, metadata=metadata, timeout=10)]
        refusals.append(refused.value)
    for error in refusals:
        assert error.code() == grpc.StatusCode.PERMISSION_DENIED
        details = error.details() or ""
        assert "may not ask for lead reasoning" in details
        assert f"may use only {ALLOWED_MODEL}" in details
    assert suite.upstream_calls() == calls_before
    plain = await admin_call(
        suite, one_model.secret, "ScoreLead", gateway_pb2.ScoreLeadRequest(lead=lead)
    )
    assert plain.score.reasoning_cost.total_micros == 0
    role_models = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="role-models",
        limits=ledger_pb.ApiKeyLimits(allowed_models=PriceTable.load().role_models),
    )
    reasoned = await admin_call(
        suite,
        role_models.secret,
        "ScoreLead",
        gateway_pb2.ScoreLeadRequest(lead=lead, with_reasoning=True),
    )
    assert reasoned.score.reasoning_cost.total_micros > 0
    assert suite.upstream_calls() == calls_before + 1


async def test_expired_and_rotated_away_secrets_are_refused_on_both_doors(keys_suite) -> None:
    suite = keys_suite
    soon = gateway_pb2.CreateApiKeyRequest().expires_at
    soon.FromDatetime(datetime.now(UTC) + timedelta(seconds=2))
    short = await create(suite, TENANT_ADMIN_KEY, name="short", expires_at=soon)
    rotating = await create(suite, TENANT_ADMIN_KEY, name="rotating")
    rotated = await admin_call(
        suite,
        TENANT_ADMIN_KEY,
        "RotateApiKey",
        gateway_pb2.RotateApiKeyRequest(key_id=rotating.key.id, grace=Duration(seconds=2)),
    )
    assert rotated.secret != rotating.secret
    await complete(suite, short.secret)
    await complete(suite, rotating.secret)  # within the grace
    await complete(suite, rotated.secret)
    await asyncio.sleep(2.5)
    for secret, sentence in ((short.secret, "expired"), (rotating.secret, "rotated")):
        error = await complete_refusal(suite, secret)
        assert error.code == grpc.StatusCode.UNAUTHENTICATED
        assert sentence in error.message
        assert (await http_message(suite, secret, ALLOWED_MODEL)).status_code == 401
    await complete(suite, rotated.secret)


async def test_per_key_rate_limit_and_budget_are_enforced(keys_suite) -> None:
    suite = keys_suite
    limited = await create(
        suite, TENANT_ADMIN_KEY, name="slow", limits=ledger_pb.ApiKeyLimits(requests_per_minute=1)
    )
    await complete(suite, limited.secret)
    error = await complete_refusal(suite, limited.secret)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "this API key" in error.message
    # A budget of one micro-dollar: the ledger's API-key scope refuses the hold.
    poor = await create(
        suite, TENANT_ADMIN_KEY, name="poor", limits=ledger_pb.ApiKeyLimits(budget_micros=1)
    )
    error = await complete_refusal(suite, poor.secret)
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert poor.key.id in error.message or "api key" in error.message.lower()


async def test_a_keys_own_token_limit_counts_its_sessions_history(keys_suite) -> None:
    """No limit is configured for the tenant or keys: only the key's own. Each new turn alone
    is far under it (about 1,700 tokens, then about 30); the history each turn carries is not."""
    suite = keys_suite
    made = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="talker",
        limits=ledger_pb.ApiKeyLimits(tokens_per_minute=6000),
    )
    opening = "Tell me everything about the garden and the roof. " * 150
    refusal = None
    async with TollgateClient(suite.gateway.address, made.secret) as client:
        # Counters are per calendar minute: eight turns are refused even across one rollover.
        for turn in range(8):
            try:
                await client.complete(
                    messages=[
                        {"role": "user", "content": opening if turn == 0 else f"And {turn}?"}
                    ],
                    model=ALLOWED_MODEL,
                    max_tokens=20,
                    session_id="long-talk",
                )
            except TollgateError as error:
                refusal = (turn, error)
                break
    assert refusal is not None, "the stored history went past the key's own token limit"
    turn, error = refusal
    assert turn >= 2
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert "this API key" in error.message


async def test_the_secret_is_returned_once_and_never_logged(keys_suite, caplog) -> None:
    suite = keys_suite
    caplog.set_level(logging.DEBUG)
    made = await create(suite, TENANT_ADMIN_KEY, name="quiet")
    rotated = await admin_call(
        suite, TENANT_ADMIN_KEY, "RotateApiKey", gateway_pb2.RotateApiKeyRequest(key_id=made.key.id)
    )
    listing = await admin_call(
        suite, TENANT_ADMIN_KEY, "ListApiKeys", gateway_pb2.ListApiKeysRequest()
    )
    assert made.secret.startswith("tg_")
    assert len(made.secret) > 40
    for secret in (made.secret, rotated.secret):
        assert secret not in str(listing)
        assert secret not in caplog.text
    response = await http(
        suite, "POST", "/v1/tollgate/keys", TENANT_ADMIN_KEY,
        json={"name": "by-http", "role": "app", "limits": {"allowed_tasks": ["chat"]}},
    )  # fmt: skip
    assert response.status_code == 200, response.text
    assert response.json()["secret"] not in caplog.text
    assert response.json()["key"]["limits"]["allowed_tasks"] == ["TASK_TYPE_CHAT"]
    bad = await http(
        suite, "POST", "/v1/tollgate/keys", TENANT_ADMIN_KEY, json={"name": "x", "role": "emperor"}
    )
    assert bad.status_code == 400
    assert bad.json()["error"]["type"] == "invalid_request_error"


async def test_rotate_and_revoke_on_the_http_door(keys_suite) -> None:
    suite = keys_suite
    made = await http(suite, "POST", "/v1/tollgate/keys", TENANT_ADMIN_KEY, json={"name": "web"})
    key_id, secret = made.json()["key"]["id"], made.json()["secret"]
    assert (await http_message(suite, secret, ALLOWED_MODEL)).status_code == 200
    rotated = await http(
        suite, "POST", f"/v1/tollgate/keys/{key_id}/rotate", TENANT_ADMIN_KEY,
        json={"grace": "30s"},
    )  # fmt: skip
    assert rotated.status_code == 200, rotated.text
    new_secret = rotated.json()["secret"]
    # Within the grace both secrets open the key.
    assert (await http_message(suite, secret, ALLOWED_MODEL)).status_code == 200
    assert (await http_message(suite, new_secret, ALLOWED_MODEL)).status_code == 200
    # Another tenant's admin cannot revoke it, not even by naming its id.
    other = await create(suite, ADMIN_KEY, tenant_id="globex", name="globex-admin",
                         role=ledger_pb.API_KEY_ROLE_ADMIN)  # fmt: skip
    await asyncio.sleep(0.5)
    stolen = await http(suite, "POST", f"/v1/tollgate/keys/{key_id}/revoke", other.secret)
    assert stolen.status_code == 404
    assert stolen.json()["error"]["type"] == "not_found_error"
    revoked = await http(suite, "POST", f"/v1/tollgate/keys/{key_id}/revoke", TENANT_ADMIN_KEY)
    assert revoked.status_code == 200
    assert "revoked_at" in revoked.json()["key"]
    for old in (secret, new_secret):
        response = await http_message(suite, old, ALLOWED_MODEL)
        assert response.status_code == 401
        assert response.json()["error"]["type"] == "authentication_error"
    listed = await http(
        suite, "GET", "/v1/tollgate/keys", TENANT_ADMIN_KEY, params={"include_revoked": "true"}
    )
    assert [k["id"] for k in listed.json()["keys"]] == [key_id]


async def test_a_key_limited_to_one_model_is_never_answered_by_a_fallback_model(
    keys_suite, emulator: EmulatorServer
) -> None:
    """The orchestrator falls back to the small model when a chat's model is overloaded; a key
    limited to that chat model must get the failure, not another model's answer."""
    suite = keys_suite
    fallback = PriceTable.load().role("small")
    assert fallback != OTHER_MODEL
    made = await create(
        suite,
        TENANT_ADMIN_KEY,
        name="sonnet-only",
        limits=ledger_pb.ApiKeyLimits(allowed_models=[OTHER_MODEL]),
    )

    def overload() -> None:
        emulator.config.fault_script = [
            ScriptedFault(FaultKind.OVERLOADED, model=OTHER_MODEL) for _ in range(20)
        ]

    def models_asked() -> list[str]:
        return [r.model for r in emulator.stats.requests if r.path == "/v1/messages"]

    # The control: an unlimited key is answered by the fallback model.
    overload()
    await complete(suite, API_KEY, model=OTHER_MODEL)
    assert fallback in models_asked()

    before = len(models_asked())
    overload()
    error = await complete_refusal(suite, made.secret, model=OTHER_MODEL)
    assert error.code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.RESOURCE_EXHAUSTED)
    asked = models_asked()[before:]
    assert set(asked) == {OTHER_MODEL}
