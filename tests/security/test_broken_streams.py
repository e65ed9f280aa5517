"""A stream that Claude's side breaks off mid-answer is charged, never given back for free.

Claude read the prompt and wrote part of the answer before the break, and Anthropic does not
document what it bills for such a stream; releasing the hold let that spend go unrecorded, so a
tenant could run past its budget on broken streams. Each test breaks the emulator's stream
halfway (an `error` event, or the connection dropped) and reads the ledger afterwards."""

from __future__ import annotations

from typing import Any

import grpc
import prometheus_client
import pytest

from tests.conftest import API_KEY, FullSuite
from tests.security.conftest import upstream_cost_micros
from tollgate.client import TollgateError
from tollgate.emulator.config import FaultKind, ScriptedFault


def _broken_streams_charged() -> float:
    return sum(
        sample.value
        for family in prometheus_client.REGISTRY.collect()
        for sample in family.samples
        if sample.name == "tollgate_gateway_broken_streams_total"
        and sample.labels.get("outcome") == "charged"
    )


@pytest.mark.parametrize("fault", [FaultKind.STREAM_ERROR, FaultKind.STREAM_DROP])
async def test_a_stream_broken_mid_answer_is_charged_for_what_claude_produced(
    full_suite: FullSuite, ask: Any, read_usage: Any, fault: FaultKind
) -> None:
    full_suite.emulator.config.fault_script.append(ScriptedFault(fault))
    charged_before = _broken_streams_charged()
    async with full_suite.client(API_KEY) as acme:
        stream = acme.stream(**ask("Write a long listing description for 12 Oak Street."))
        with pytest.raises(TollgateError) as broken:
            await stream.text()
    assert broken.value.code == grpc.StatusCode.UNAVAILABLE
    assert full_suite.emulator.stats.streams_completed == 0
    requests, cost = await read_usage(full_suite, "acme")
    assert requests == 1, "the broken stream's hold was given back: its spend went unrecorded"
    # The prompt in full, and something for the part of the answer that arrived.
    assert cost > upstream_cost_micros(full_suite, output=False) > 0
    assert _broken_streams_charged() == charged_before + 1


async def test_a_stream_broken_before_claude_began_is_not_charged(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    """Refused before any event (an overloaded answer to every try): nothing was produced."""
    full_suite.emulator.config.fault_script.extend(
        [ScriptedFault(FaultKind.OVERLOADED) for _ in range(20)]
    )
    async with full_suite.client(API_KEY) as acme:
        with pytest.raises(TollgateError):
            await acme.stream(**ask("Summarize the viewing at 12 Oak Street.")).text()
    assert await read_usage(full_suite, "acme") == (0, 0)
