"""docs/api.md's examples, run as written: one per public RPC of GatewayService (Python, inside
the documented client setup) and one per HTTP endpoint (bash and curl), against a running suite.
An RPC or endpoint without an example, or an example that fails, fails the test."""

from __future__ import annotations

import asyncio
import os
import re
import shutil
import textwrap
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.conftest import API_KEY, TENANT_ADMIN_KEY, FullSuite
from tollgate.v1 import budget_ledger_pb2, gateway_pb2

pytestmark = pytest.mark.skipif(shutil.which("curl") is None, reason="needs curl")

API_DOC = Path(__file__).resolve().parents[2] / "docs" / "api.md"
SECTION = "## Every call, with an example"
EXAMPLE = re.compile(r"^#### `([^`]+)`\n\n```(?:python|sh)\n(.*?)\n```", re.MULTILINE | re.DOTALL)
SETUP = re.compile(r"^### gRPC\n.*?```python\n(.*?)\n```", re.MULTILINE | re.DOTALL)
PLACEHOLDER = "    ...  # an example below"
# Every curl of an example must succeed: an HTTP error status fails the example.
STRICT_CURL = 'set -euo pipefail\ncurl() { command curl --fail-with-body "$@"; }\n'


def _section() -> str:
    text = API_DOC.read_text()
    start = text.index(SECTION)
    return text[start : text.index("\n## ", start + len(SECTION))]


def _examples(part: str) -> dict[str, str]:
    """Heading -> example code, for the `### gRPC` or `### HTTP` part of the section."""
    section = _section()
    start = section.index(f"### {part}\n")
    end = section.find("\n### ", start + 1)
    return dict(EXAMPLE.findall(section[start : end if end > 0 else None]))


def _gateway_rpcs() -> set[str]:
    service = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"]
    return {method.name for method in service.methods}


def _door_routes(suite: FullSuite) -> set[str]:
    door = suite.gateway.service.registrations[0].servicer.http_door
    assert door is not None
    return {
        f"{route.method} {route.resource.canonical}"
        for route in door.app().router.routes()
        if route.method != "HEAD" and route.resource is not None
    }


def test_every_rpc_has_an_example() -> None:
    assert set(_examples("gRPC")) == _gateway_rpcs()


def _rpc_program(example: str) -> Callable[[str, str, str], Any]:
    """The documented setup with `example` in place of its placeholder, as an async function."""
    setup = SETUP.search(_section())
    assert setup is not None
    assert PLACEHOLDER in setup[1]
    body = setup[1].replace(PLACEHOLDER, textwrap.indent(example, "    "))
    program = "async def example(address, app_key, admin_key):\n" + textwrap.indent(
        body.replace('"localhost:50051"', "address"), "    "
    )
    namespace: dict[str, Any] = {}
    exec(compile(program, str(API_DOC), "exec"), namespace)
    return namespace["example"]  # type: ignore[no-any-return]


async def _raise_an_alert(suite: FullSuite) -> None:
    """A day budget whose 1 % threshold the next answer crosses."""
    budget = budget_ledger_pb2.Budget(
        scope=budget_ledger_pb2.BudgetScope(kind=budget_ledger_pb2.SCOPE_KIND_TENANT),
        period=budget_ledger_pb2.BUDGET_PERIOD_DAY,
        limit_micros=10_000,
        alert_thresholds_percent=[1],
    )
    async with suite.client(TENANT_ADMIN_KEY) as admin, suite.client() as client:
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )
        await client.complete(messages=[{"role": "user", "content": "One word"}], max_tokens=50)


async def test_every_rpc_example_runs(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
    redis_url: str,
    redis_namespace: str,
) -> None:
    # InvalidateCache clears the semantic cache too, so it runs here; sessions need their store.
    async with start_door(
        with_semantic_cache=True, sessions_redis_url=redis_url, sessions_key_prefix=redis_namespace
    ) as suite:
        await _run_rpc_examples(suite)


async def _run_rpc_examples(suite: FullSuite) -> None:
    address = suite.gateway.address
    for name, example in _examples("gRPC").items():
        run = _rpc_program(example)(address, API_KEY, TENANT_ADMIN_KEY)
        if name == "WatchBudgetAlerts":
            # It waits for the next alert: raise one while it watches.
            watching = asyncio.ensure_future(run)
            await asyncio.sleep(0.5)
            await _raise_an_alert(suite)
            await asyncio.wait_for(watching, timeout=30)
        else:
            await asyncio.wait_for(run, timeout=60)
        await suite.settled()


async def _curl(example: str, base_url: str, batch_id: str = "", key_id: str = "") -> str:
    env = {
        **os.environ,
        "TOLLGATE_URL": base_url,
        "TOLLGATE_KEY": API_KEY,
        "TOLLGATE_ADMIN_KEY": TENANT_ADMIN_KEY,
        "BATCH_ID": batch_id,
        "KEY_ID": key_id,
    }
    process = await asyncio.create_subprocess_exec(
        "bash",
        "-c",
        STRICT_CURL + example,
        env=env,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    out, err = await asyncio.wait_for(process.communicate(), timeout=60)
    assert process.returncode == 0, f"{example}\n{out.decode()}\n{err.decode()}"
    assert out.strip(), example
    return out.decode()


async def _ended(http: httpx.AsyncClient, batch_id: str) -> None:
    for _ in range(200):
        if (await http.get(f"/v1/messages/batches/{batch_id}")).json()[
            "processing_status"
        ] == "ended":
            return
        await asyncio.sleep(0.05)
    raise AssertionError(f"batch {batch_id} did not end")


async def test_every_endpoint_has_an_example_and_each_runs_with_curl(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> None:
    examples = _examples("HTTP")
    async with start_door() as suite:
        base_url = suite.http_url
        assert set(examples) == _door_routes(suite)
        batches = "/v1/messages/batches"
        for route in ("POST /v1/messages", "POST /v1/messages/count_tokens", "GET /v1/models"):
            await _curl(examples[route], base_url)
        classified = await _curl(examples["POST /v1/tollgate/classify"], base_url)
        assert classified.strip().splitlines()[-1] == '{"type": "done", "items": 1}'
        await _curl(examples["GET /v1/models/{model_id}"], base_url)
        created = await _curl(examples[f"POST {batches}"], base_url)
        batch_id = httpx.Response(200, content=created).json()["id"]
        assert batch_id in await _curl(examples[f"GET {batches}"], base_url)
        await _curl(examples[f"GET {batches}/{{batch_id}}"], base_url, batch_id)
        async with httpx.AsyncClient(base_url=base_url, headers={"x-api-key": API_KEY}) as http:
            await _ended(http, batch_id)
            await _curl(examples[f"GET {batches}/{{batch_id}}/results"], base_url, batch_id)
            # A batch still processing, to cancel.
            suite.emulator.config.batch_processing_delay_s = 30.0
            slow = (await http.post(batches, content=created_body(examples))).json()["id"]
        canceled = await _curl(examples[f"POST {batches}/{{batch_id}}/cancel"], base_url, slow)
        assert '"canceling"' in canceled or '"ended"' in canceled
        await _run_key_examples(examples, base_url)


async def _run_key_examples(examples: dict[str, str], base_url: str) -> None:
    """Create a managed key, find it in the list, rotate it, revoke it: each as documented."""
    keys = "/v1/tollgate/keys"
    created = await _curl(examples[f"POST {keys}"], base_url)
    key_id = httpx.Response(200, content=created).json()["key"]["id"]
    assert key_id in await _curl(examples[f"GET {keys}"], base_url)
    assert '"secret"' in await _curl(
        examples[f"POST {keys}/{{key_id}}/rotate"], base_url, key_id=key_id
    )
    revoked = await _curl(examples[f"POST {keys}/{{key_id}}/revoke"], base_url, key_id=key_id)
    assert key_id in revoked


def created_body(examples: dict[str, str]) -> str:
    """The JSON body of the documented batch create (between `-d '` and the closing `'`)."""
    match = re.search(r"-d '(.*)'", examples["POST /v1/messages/batches"], re.DOTALL)
    assert match is not None
    return match[1]
