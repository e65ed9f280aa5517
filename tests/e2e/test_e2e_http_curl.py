"""The HTTP door with `curl`, and the semantic cache through it: the account headers show a
miss, an exact hit, a semantic hit (with its similarity) and a budget refusal."""

from __future__ import annotations

import asyncio
import json
import shutil
from collections.abc import AsyncIterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import pytest

from tests.conftest import ALL_ON, API_KEY, FullSuite, running_full_suite
from tests.e2e.conftest import set_tenant_budget
from tollgate.emulator import EmulatorServer

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["semantic_cache"] = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}


@pytest.fixture
async def semantic_door(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> AsyncIterator[tuple[FullSuite, str]]:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        FLAGS,
        with_semantic_cache=True,
        semantic_cache_timeout_seconds=10.0,
        http_enabled=True,
        http_port=0,
    ) as suite:
        yield suite, suite.http_url


def _ask(question: str) -> str:
    return json.dumps(
        {
            "model": "claude-sonnet-5-5",
            "max_tokens": 1000,
            "temperature": 0,
            "system": "You are the assistant of a real-estate CRM.",
            "messages": [{"role": "user", "content": question}],
        }
    )


async def curl(base_url: str, body: str) -> tuple[int, dict[str, str], dict[str, Any]]:
    """POST /v1/messages with curl; (status, headers, JSON body)."""
    process = await asyncio.create_subprocess_exec(
        "curl",
        "-sS",
        "-D",
        "-",
        f"{base_url}/v1/messages",
        "-H",
        f"x-api-key: {API_KEY}",
        "-H",
        "anthropic-version: 2023-06-01",
        "-H",
        "content-type: application/json",
        "-H",
        "x-tollgate-task: chat",
        "--data-binary",
        body,
        stdout=asyncio.subprocess.PIPE,
    )
    out, _ = await process.communicate()
    head, _, payload = out.decode().partition("\r\n\r\n")
    status_line, *lines = head.split("\r\n")
    headers = {k.lower(): v.strip() for k, _, v in (line.partition(":") for line in lines)}
    return int(status_line.split()[1]), headers, json.loads(payload)


async def test_curl_sees_a_miss_an_exact_hit_a_semantic_hit_and_a_budget_refusal(
    semantic_door: tuple[FullSuite, str],
) -> None:
    suite, base_url = semantic_door
    await set_tenant_budget(suite, 10_000_000)
    question = "What documents do I need to get pre-approved for a mortgage?"
    paraphrase = "Which documents are needed to get pre-approved for a mortgage?"
    status, miss, first = await curl(base_url, _ask(question))
    assert status == 200
    assert miss["x-tollgate-cache"] == "miss"
    assert int(miss["x-tollgate-cost-micros"]) > 0
    assert int(miss["x-tollgate-budget-remaining-micros"]) < 10_000_000
    await suite.settled()
    _, exact, again = await curl(base_url, _ask(question))
    assert exact["x-tollgate-cache"] == "exact"
    assert again["content"] == first["content"]
    _, semantic, similar = await curl(base_url, _ask(paraphrase))
    assert semantic["x-tollgate-cache"] == "semantic"
    assert float(semantic["x-tollgate-similarity"]) >= 0.8
    assert semantic["x-tollgate-cost-micros"] == "0"
    assert int(semantic["x-tollgate-saved-micros"]) > 0
    assert similar["content"] == first["content"]
    await suite.settled()
    await set_tenant_budget(suite, 100)
    status, refused, error = await curl(base_url, _ask("Show me 3-bed homes in Austin."))
    assert status == 429
    assert int(refused["retry-after"]) > 0
    assert refused["x-tollgate-limit-micros"] == "100"
    assert error["type"] == "error"
    assert error["error"]["type"] == "rate_limit_error"
