"""Secrets and logs: no API key (good, bad or admin), upstream credential, prompt or answer
appears in any log line by default; opted-in prompt logging redacts e-mails and phone numbers."""

from __future__ import annotations

import json
import logging
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path

import anthropic
import grpc
import httpx
import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import (
    ADMIN_KEY,
    ALL_ON,
    API_KEY,
    OTHER_TENANT_KEY,
    FullSuite,
    running_full_suite,
)
from tollgate.client import TollgateError
from tollgate.common.logs import JsonFormatter
from tollgate.emulator import EmulatorServer
from tollgate.gateway.redaction import EMAIL_MARK, PHONE_MARK, redact
from tollgate.v1 import gateway_pb2

WRONG_KEY = "tg_live_guessed_secret_987654321"
UPSTREAM_KEY = "emulator-key"  # the orchestrator's Anthropic credential in the test suite
EMAIL = "jane.doe+crm@example-realty.com"
PHONE = "+1 (415) 555-0134"
PROMPT = f"Call Jane back at {PHONE} or write to {EMAIL} about the Maple Street viewing."


def _lines(caplog: pytest.LogCaptureFixture) -> list[str]:
    formatter = JsonFormatter("test")
    return [formatter.format(record) for record in caplog.records]


async def _traffic(suite: FullSuite) -> str:
    """Successful, refused and admin calls; returns the answer text."""
    async with suite.client() as client:
        answer = await client.complete(
            messages=[{"role": "user", "content": PROMPT}], max_tokens=300
        )
        stream = client.stream(messages=[{"role": "user", "content": PROMPT}], max_tokens=300)
        await stream.text()
    for key in (WRONG_KEY, f"Bearer {WRONG_KEY}"):
        async with suite.client(key) as intruder:
            with pytest.raises(TollgateError) as caught:
                await intruder.complete(messages=[{"role": "user", "content": "hi"}], max_tokens=5)
        assert caught.value.code == grpc.StatusCode.UNAUTHENTICATED
    async with suite.client(ADMIN_KEY) as admin:
        await admin.stub.GetBudgets(
            gateway_pb2.GetBudgetsRequest(tenant_id="acme"), metadata=admin.metadata
        )
    async with suite.client(OTHER_TENANT_KEY) as other:
        with pytest.raises(grpc.aio.AioRpcError):
            await other.stub.GetBudgets(gateway_pb2.GetBudgetsRequest(), metadata=other.metadata)
    await suite.settled()
    return answer.text


async def test_no_secret_prompt_or_answer_in_any_log_line(
    full_suite: FullSuite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.INFO)
    answer = await _traffic(full_suite)
    lines = _lines(caplog)
    assert any('"msg": "rpc"' in line for line in lines)  # the access log was captured
    assert any("acme-app" in line for line in lines)  # keys appear by their id ...
    text = "\n".join(lines)
    for secret in (API_KEY, ADMIN_KEY, OTHER_TENANT_KEY, WRONG_KEY, UPSTREAM_KEY):
        assert secret not in text  # ... never by their secret
    for private in (EMAIL, "555-0134", "Maple Street", answer):
        assert private not in text


def _http_requests(route: str, method: str, status: str) -> float:
    """tollgate_http_requests_total for one route, method and status, as /metrics serves it."""
    text = prometheus_client.generate_latest().decode()
    return sum(
        sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
        if sample.name == "tollgate_http_requests_total"
        and (sample.labels.get("route"), sample.labels.get("method"), sample.labels.get("status"))
        == (route, method, status)
    )


async def test_the_http_door_logs_one_line_per_request_and_no_secret_prompt_or_answer(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    ask = {"model": "claude-sonnet-5-5", "max_tokens": 300}
    messages = [{"role": "user", "content": PROMPT}]
    async with start_door() as suite:
        ok_before = _http_requests("/v1/messages", "POST", "200")
        refused_before = _http_requests("/v1/messages", "POST", "401")
        sdk = anthropic.AsyncAnthropic(base_url=suite.http_url, api_key=API_KEY, max_retries=0)
        raw = await sdk.messages.with_raw_response.create(messages=messages, **ask)  # type: ignore[arg-type]
        answer = await raw.parse()
        async with sdk.messages.stream(messages=messages, **ask) as stream:  # type: ignore[arg-type]
            await stream.get_final_message()
        intruder = anthropic.AsyncAnthropic(
            base_url=suite.http_url, api_key=WRONG_KEY, max_retries=0
        )
        with pytest.raises(anthropic.AuthenticationError):
            await intruder.messages.create(messages=messages, **ask)  # type: ignore[arg-type]
        batch = await sdk.messages.batches.create(
            requests=[{"custom_id": "one", "params": {"messages": messages, **ask}}]  # type: ignore[list-item, typeddict-item]
        )
        await sdk.messages.batches.retrieve(batch.id)
        async with httpx.AsyncClient(base_url=suite.http_url) as http:
            await http.get("/v1/no/such/path/" + WRONG_KEY, headers={"x-api-key": WRONG_KEY})
        await suite.settled()
        assert _http_requests("/v1/messages", "POST", "200") == ok_before + 2
        assert _http_requests("/v1/messages", "POST", "401") == refused_before + 1
        assert _http_requests("unmatched", "GET", "404") >= 1
    lines = _lines(caplog)
    access = [json.loads(line) for line in lines if '"msg": "http"' in line]
    assert [(a["method"], a["route"], a["status"]) for a in access] == [
        ("POST", "/v1/messages", 200),
        ("POST", "/v1/messages", 200),
        ("POST", "/v1/messages", 401),
        ("POST", "/v1/messages/batches", 200),
        ("GET", "/v1/messages/batches/{batch_id}", 200),
        ("GET", "unmatched", 404),
    ]
    for line in access[:2] + access[3:5]:
        assert line["tenant"] == "acme"
        assert line["api_key_id"] == "acme-app"
        assert line["request_id"]
        assert line["duration_ms"] > 0
    assert access[0]["request_id"] == raw.headers["request-id"]
    assert "tenant" not in access[2]  # the refused caller is nobody
    assert all(batch.id not in json.dumps(line) for line in access)  # templates, not paths
    # What the gateway logged (the test's own HTTP client logs its URLs under "httpx").
    text = "\n".join(line for line in lines if '"logger": "tollgate.' in line)
    for secret in (API_KEY, WRONG_KEY, UPSTREAM_KEY):
        assert secret not in text
    answer_text = "".join(block.text for block in answer.content if block.type == "text")
    for private in (EMAIL, "555-0134", "Maple Street", answer_text):
        assert private not in text


async def test_opted_in_prompt_logging_redacts_emails_and_phone_numbers(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
    caplog: pytest.LogCaptureFixture,
) -> None:
    caplog.set_level(logging.INFO)
    async with running_full_suite(
        emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, ALL_ON, log_prompts=True
    ) as suite:
        await _traffic(suite)
    exchanges = [
        json.loads(line)
        for line in _lines(caplog)
        if '"logger": "tollgate.gateway.prompts"' in line
    ]
    assert len(exchanges) == 2  # the unary call and the stream
    assert "Maple Street" in exchanges[0]["prompt"]
    assert EMAIL_MARK in exchanges[0]["prompt"]
    assert PHONE_MARK in exchanges[0]["prompt"]
    assert exchanges[0]["answer"]
    text = "\n".join(_lines(caplog))
    assert EMAIL not in text
    assert "555-0134" not in text
    assert API_KEY not in text


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("mail jane@example.com now", f"mail {EMAIL_MARK} now"),
        ("a.b-c+d@sub.example.co.uk", EMAIL_MARK),
        ("call +44 20 7946 0958 today", f"call {PHONE_MARK} today"),
        ("(415) 555-0134", PHONE_MARK),
        ("415.555.0134 or 4155550134", f"{PHONE_MARK} or {PHONE_MARK}"),
        ("0033 1 23 45 67 89", PHONE_MARK),
        # Numbers that are not phone numbers stay: prices, years, dates, unit counts.
        ("budget $450,000 for 3 beds", "budget $450,000 for 3 beds"),
        ("viewing on 2026-03-14 at 10:30", "viewing on 2026-03-14 at 10:30"),
        ("built in 1998, 2 200 sq ft", "built in 1998, 2 200 sq ft"),
    ],
)
def test_redaction(text: str, expected: str) -> None:
    assert redact(text) == expected
