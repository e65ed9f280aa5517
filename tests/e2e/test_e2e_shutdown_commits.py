"""A gateway stopped (SIGTERM, as a rolling update does) right after a caller abandoned a stream
still charges what Claude produced, through either door; one killed outright (SIGKILL) leaves
its in-flight request's hold to be charged in full when it expires.

The gateway reads an abandoned stream to its end in the background and then commits its cost
(docs/budget_ledger.md, "Wiring into the gateway", item 4). Stopping, it must let that work
finish before it closes its channels to the backends: otherwise the read is cut off, the hold is
released, and the tenant is never charged for an answer Claude was paid for. The rest of an
abandoned answer may take as long as a call, so the wait gets the calls' grace.
"""

from __future__ import annotations

import asyncio
import secrets
import signal
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from pathlib import Path

import anthropic
import asyncpg
import psutil
import pytest

from tests.conftest import set_tenant_budget
from tollgate.cli.local_suite import DEMO_TENANT, LocalSuite, SuiteProcess, local_suite
from tollgate.client import TollgateClient
from tollgate.emulator.control_client import configure as configure_emulator
from tollgate.gateway.http.inbound import REQUEST_ID_HEADER
from tollgate.v1 import budget_ledger_pb2

QUESTION = "Write a long market update for Austin."
# A scripted answer far longer than max_tokens, so the answer ends at max_tokens exactly.
ANSWER = " ".join(["Austin inventory rose again this week while prices held steady."] * 60)
# About 12.5 s of streaming: the gateway is stopped well before the answer's end, and the rest
# of the answer takes longer than a fixed 10 s wait for the background work would allow.
OUTPUT_TOKENS = 150
TOKENS_PER_SECOND = 12
MODEL = "claude-sonnet-5-5"


@dataclass
class Running:
    suite: LocalSuite
    gateway: SuiteProcess
    ledger_dsn: str

    async def stop_gateway(self) -> None:
        self.gateway.process.send_signal(signal.SIGTERM)
        assert await asyncio.wait_for(self.gateway.process.wait(), 60) == 0

    async def assert_charged_in_full(self, request_id: str) -> None:
        """The hold was committed, with the whole answer Claude produced (read to its end after
        the caller left), at a cost."""
        connection = await asyncpg.connect(self.ledger_dsn)
        try:
            status = await connection.fetchval(
                "SELECT status FROM holds WHERE request_id = $1", request_id
            )
            charged = await connection.fetchrow(
                "SELECT cost_micros, output_tokens FROM ledger_entries "
                "WHERE request_id = $1 AND kind = 'commit'",
                request_id,
            )
        finally:
            await connection.close()
        # The holds table keeps tollgate.v1.HoldStatus values.
        assert budget_ledger_pb2.HoldStatus.Name(status) == "HOLD_STATUS_COMMITTED"
        assert charged is not None
        assert charged["output_tokens"] == OUTPUT_TOKENS
        assert charged["cost_micros"] > 0


@asynccontextmanager
async def _slow_suite(tmp_path: Path, single_process: bool) -> AsyncIterator[Running]:
    """A suite with a budget for the demo tenant and Claude answering QUESTION slowly."""
    async with local_suite(
        start_timeout=240, workdir=tmp_path, single_process=single_process
    ) as suite:
        # With one process, the process named "gateway" is the whole suite, the ledger in it.
        (gateway,) = [p for p in suite.processes if p.name == "gateway"]
        ledger = (
            gateway
            if single_process
            else next(p for p in suite.processes if p.name == "budget_ledger")
        )
        dsn = psutil.Process(ledger.process.pid).environ()["TOLLGATE_BUDGET_LEDGER_DATABASE_URL"]
        async with TollgateClient(suite.gateway, suite.admin_key) as admin:
            await set_tenant_budget(admin, DEMO_TENANT, 5_000_000)
        await configure_emulator(
            suite.emulator_url,
            {
                "latency": {"ttft_ms": 50, "tokens_per_second": TOKENS_PER_SECOND},
                "scripted_answers": {QUESTION: ANSWER},
            },
        )
        yield Running(suite, gateway, dsn)


async def _abandon_a_grpc_stream(running: Running, request_id: str) -> None:
    async with TollgateClient(running.suite.gateway, running.suite.api_key) as client:
        stream = client.stream(
            messages=[{"role": "user", "content": QUESTION}],
            max_tokens=OUTPUT_TOKENS,
            request_id=request_id,
        )
        events = aiter(stream)
        assert (await anext(events)).WhichOneof("event") == "message_start"
        stream.cancel()  # the caller goes away mid-answer


async def _abandon_an_sdk_stream(running: Running, request_id: str) -> None:
    """The official SDK at the HTTP door (the Messages API)."""
    client = anthropic.AsyncAnthropic(
        base_url=running.suite.http_url,
        api_key=running.suite.api_key,
        max_retries=0,
        default_headers={REQUEST_ID_HEADER: request_id},
    )
    async with client:
        stream = await client.messages.create(
            model=MODEL,
            max_tokens=OUTPUT_TOKENS,
            messages=[{"role": "user", "content": QUESTION}],
            stream=True,
        )
        async for event in stream:
            assert event.type == "message_start"
            break
        await stream.close()  # the caller goes away mid-answer


@pytest.mark.timeout(300)
@pytest.mark.parametrize("single_process", [False, True], ids=["processes", "single_process"])
async def test_streams_abandoned_at_both_doors_just_before_sigterm_are_still_charged(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path, single_process: bool
) -> None:
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    over_grpc = f"abandoned-grpc-{secrets.token_hex(4)}"
    over_http = f"abandoned-http-{secrets.token_hex(4)}"
    async with _slow_suite(tmp_path, single_process) as running:
        await _abandon_a_grpc_stream(running, over_grpc)
        await _abandon_an_sdk_stream(running, over_http)
        await running.stop_gateway()
        await running.assert_charged_in_full(over_grpc)
        await running.assert_charged_in_full(over_http)


async def _hold_and_charge(
    dsn: str, request_id: str
) -> tuple[asyncpg.Record, asyncpg.Record | None]:
    """The request's hold (status, amount, seconds left) and the charge posted under its id."""
    connection = await asyncpg.connect(dsn)
    try:
        hold = await connection.fetchrow(
            "SELECT status, amount_micros, extract(epoch FROM expires_at - now()) AS left_seconds "
            "FROM holds WHERE request_id = $1",
            request_id,
        )
        charge = await connection.fetchrow(
            "SELECT cost_micros, charged_on_expiry FROM ledger_entries WHERE request_id = $1",
            request_id,
        )
    finally:
        await connection.close()
    assert hold is not None
    return hold, charge


async def _expire_now(dsn: str, request_id: str) -> None:
    """Move the hold's expiry to the past: the minutes a real hold lives, without waiting them."""
    connection = await asyncpg.connect(dsn)
    try:
        await connection.execute(
            "UPDATE holds SET expires_at = now() - interval '1 second' WHERE request_id = $1",
            request_id,
        )
    finally:
        await connection.close()


@pytest.mark.timeout(300)
async def test_a_request_in_flight_when_its_gateway_is_killed_is_charged_its_hold(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    """SIGKILL (the kernel's OOM killer, a node lost): the gateway never commits nor releases
    what Claude was already answering. The hold outlives every way a live gateway settles it,
    and when it expires the ledger's sweeper charges it in full — the most the request could
    cost — rather than release it unbilled."""
    monkeypatch.delenv("ANTHROPIC_API_KEY", raising=False)
    request_id = f"killed-{secrets.token_hex(4)}"
    async with _slow_suite(tmp_path, single_process=False) as running:
        async with TollgateClient(running.suite.gateway, running.suite.api_key) as client:
            stream = client.stream(
                messages=[{"role": "user", "content": QUESTION}],
                max_tokens=OUTPUT_TOKENS,
                request_id=request_id,
            )
            assert (await anext(aiter(stream))).WhichOneof("event") == "message_start"
            running.gateway.process.kill()
            assert await asyncio.wait_for(running.gateway.process.wait(), 30) == -signal.SIGKILL
            stream.cancel()
        hold, charge = await _hold_and_charge(running.ledger_dsn, request_id)
        # Nothing settled it, and it lives past the longest answer (the orchestrator timeout).
        assert budget_ledger_pb2.HoldStatus.Name(hold["status"]) == "HOLD_STATUS_HELD"
        assert charge is None
        assert hold["left_seconds"] > 120
        await _expire_now(running.ledger_dsn, request_id)
        for _ in range(150):  # the sweeper runs every 5 s
            hold, charge = await _hold_and_charge(running.ledger_dsn, request_id)
            if charge is not None:
                break
            await asyncio.sleep(0.2)
        assert budget_ledger_pb2.HoldStatus.Name(hold["status"]) == "HOLD_STATUS_COMMITTED"
        assert charge is not None
        assert charge["charged_on_expiry"]
        assert charge["cost_micros"] == hold["amount_micros"] > 0
