"""Secrets and logs: no API key (good, bad or admin), upstream credential, prompt or answer
appears in any log line by default; opted-in prompt logging redacts e-mails and phone numbers."""

from __future__ import annotations

import json
import logging
from pathlib import Path

import grpc
import pytest

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
