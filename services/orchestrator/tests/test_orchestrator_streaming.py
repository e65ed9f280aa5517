"""Streamed generations: events pass through, and a caller that cancels stops the upstream call."""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import Any

from tollgate.emulator.config import FaultKind, ScriptedFault
from tollgate.emulator.server import EmulatorServer
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
MakeSpec = Callable[..., orchestrator_pb2.GenerationSpec]
Calls = Callable[[], list[Any]]


async def test_cancelling_a_streamed_call_disconnects_the_upstream_stream(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    # Slow enough that the answer is far from finished when the caller gives up.
    emulator.config.latency.tokens_per_second = 20
    call = orchestrator.StreamGenerate(
        orchestrator_pb2.StreamGenerateRequest(spec=make_spec(max_tokens=400)), timeout=30
    )
    deltas = 0
    async for item in call:
        if item.event.WhichOneof("event") == "content_block_delta":
            deltas += 1
            if deltas == 3:
                break
    call.cancel()

    for _ in range(100):
        if emulator.stats.client_disconnects:
            break
        await asyncio.sleep(0.05)
    assert emulator.stats.client_disconnects == 1
    (record,) = upstream_calls()
    assert record.stream
    assert record.client_disconnected
    assert emulator.stats.streams_completed == 0


async def test_a_streamed_call_retries_a_429_before_any_event_is_sent(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.fault_script = [ScriptedFault(FaultKind.RATE_LIMIT, retry_after_s=0.1)]
    items = [
        item
        async for item in orchestrator.StreamGenerate(
            orchestrator_pb2.StreamGenerateRequest(spec=make_spec()), timeout=20
        )
    ]
    result = items[-1].result
    assert result.upstream_attempts == 2
    text = "".join(
        i.event.content_block_delta.text
        for i in items[:-1]
        if i.event.WhichOneof("event") == "content_block_delta"
    )
    assert text == result.response.content[0].text.text
    assert [c.status for c in upstream_calls()] == [429, 200]
