"""Lead reasoning is paid for whatever the caller does: a ScoreLead whose caller stops waiting
while Claude reasons is charged what Claude billed."""

from __future__ import annotations

import grpc
import pytest

from tests.conftest import FullSuite, qualified_lead
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
