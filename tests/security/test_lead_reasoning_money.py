"""Lead reasoning is paid for whatever the caller does: a ScoreLead whose caller stops waiting
while Claude reasons is charged what Claude billed, and one whose reasoning lead scoring itself
cut off after it went out is charged the most it could have cost."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from typing import Any

import grpc
import pytest

from tests.conftest import ALL_ON, FullSuite, qualified_lead
from tests.security.conftest import upstream_cost_micros, usage_totals
from tollgate.v1 import gateway_pb2


async def test_a_caller_who_stops_waiting_for_reasoning_still_pays_for_it(
    full_suite: FullSuite,
) -> None:
    full_suite.emulator.config.latency.ttft_ms = 1000
    request = gateway_pb2.ScoreLeadRequest(lead=qualified_lead("lead-77"), with_reasoning=True)
    async with full_suite.client() as client:
        with pytest.raises(grpc.aio.AioRpcError) as cut:
            await client.stub.ScoreLead(request, metadata=client.metadata, timeout=0.5)
    assert cut.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await full_suite.settled()
    assert full_suite.upstream_calls() == 1
    # The reasoning ran to its end and was charged at what Claude billed, at once: not left
    # held until its hold expires, then charged the most it could have cost.
    assert await usage_totals(full_suite, "acme") == (1, upstream_cost_micros(full_suite))


@pytest.fixture
async def impatient_reasoning_suite(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[FullSuite]:
    """The suite with lead scoring giving Claude's reasoning 0.3 s, far less than Claude takes."""
    async with start_suite(ALL_ON, lead_overrides={"reasoning_timeout_seconds": 0.3}) as suite:
        yield suite


@pytest.mark.parametrize("batch", [False, True], ids=["ScoreLead", "ScoreLeads"])
async def test_reasoning_cut_off_after_it_went_out_is_charged_the_most_it_could_cost(
    impatient_reasoning_suite: FullSuite, batch: bool
) -> None:
    suite = impatient_reasoning_suite
    suite.emulator.config.latency.ttft_ms = 1000
    lead = qualified_lead("lead-78")
    async with suite.client() as client:
        if batch:
            request: Any = gateway_pb2.ScoreLeadsRequest(leads=[lead], with_reasoning=True)
            scores = [
                r.score async for r in client.stub.ScoreLeads(request, metadata=client.metadata)
            ]
        else:
            request = gateway_pb2.ScoreLeadRequest(lead=lead, with_reasoning=True)
            scores = [(await client.stub.ScoreLead(request, metadata=client.metadata)).score]
    # The score came back without reasoning, on time; Claude was asked and billed the call.
    assert [s.reasoning_cost_unknown for s in scores] == [True]
    assert not scores[0].HasField("reasoning")
    await suite.settled()
    assert suite.upstream_calls() == 1
    billed = upstream_cost_micros(suite)
    assert billed > 0
    requests, charged = await usage_totals(suite, "acme")
    # Charged once, at no less than what Claude billed: the hold's most, not the 0 it reported.
    assert requests == 1
    assert charged >= billed


async def test_a_batch_abandoned_part_way_is_read_to_its_end_and_charged_what_claude_billed(
    full_suite: FullSuite,
) -> None:
    """The caller takes one score of four and leaves while Claude reasons on the next: every
    lead is still scored and the batch is charged exactly what Claude billed, not the first."""
    full_suite.emulator.config.latency.ttft_ms = 300
    leads = [qualified_lead(f"lead-{n}") for n in range(4)]
    request = gateway_pb2.ScoreLeadsRequest(leads=leads, with_reasoning=True, max_concurrency=1)
    async with full_suite.client() as client:
        call = client.stub.ScoreLeads(request, metadata=client.metadata)
        first = await call.read()
        assert first.score.reasoning.narrative
        call.cancel()
    await full_suite.settled()
    assert full_suite.upstream_calls() == 4
    assert await usage_totals(full_suite, "acme") == (1, upstream_cost_micros(full_suite))
