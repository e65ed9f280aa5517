"""A request's log lines, in every service it touched, carry its trace id and request id."""

from __future__ import annotations

import io
import json
import logging
from collections.abc import Iterator

import pytest

from tests.conftest import FullSuite
from tollgate.common.logs import JsonFormatter


@pytest.fixture
def json_lines() -> Iterator[io.StringIO]:
    """Every log line of this process, as the services write them (JSON, one per line)."""
    buffer = io.StringIO()
    handler = logging.StreamHandler(buffer)
    handler.setFormatter(JsonFormatter("tests"))
    root = logging.getLogger()
    level = root.level
    root.addHandler(handler)
    root.setLevel(logging.INFO)
    try:
        yield buffer
    finally:
        root.removeHandler(handler)
        root.setLevel(level)


async def test_every_service_logs_the_request_under_its_trace_id(
    full_suite: FullSuite, json_lines: io.StringIO
) -> None:
    async with full_suite.client() as client:
        result = await client.complete(
            messages=[{"role": "user", "content": "Which schools serve 14 Elm Court?"}],
            max_tokens=32,
            request_id="req-log-correlation",
        )
    await full_suite.settled()
    trace_id = result.account.trace_id
    lines = [json.loads(line) for line in json_lines.getvalue().splitlines()]

    ours = [line for line in lines if line.get("trace_id") == trace_id]
    methods = {line.get("method", "") for line in ours}
    services = {method.split("/")[1] for method in methods if method.count("/") == 2}
    # The gateway and every backend this request reached wrote an access line in its trace.
    assert {
        "tollgate.v1.GatewayService",
        "tollgate.v1.OrchestratorService",
        "tollgate.v1.CacheService",
        "tollgate.v1.BudgetLedgerService",
    } <= services
    # Every line that names the request names its trace too, and has a span.
    named = [line for line in lines if line.get("request_id") == "req-log-correlation"]
    assert named
    assert all(line.get("trace_id") == trace_id for line in named)
    assert all(len(line.get("span_id", "")) == 16 for line in named)


async def test_a_refused_request_is_logged_with_the_id_the_client_sent(
    full_suite: FullSuite, json_lines: io.StringIO
) -> None:
    async with full_suite.client() as client:
        with pytest.raises(Exception, match="INVALID_ARGUMENT"):
            await client.complete(messages=[], max_tokens=10, request_id="req-refused-1")
    refused = [
        json.loads(line) for line in json_lines.getvalue().splitlines() if "req-refused-1" in line
    ]
    assert refused
    assert refused[-1]["code"] == "INVALID_ARGUMENT"
    assert len(refused[-1]["trace_id"]) == 32
