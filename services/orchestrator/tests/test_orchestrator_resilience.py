"""Retries, fallbacks, circuit breakers and deadlines: against the emulator through gRPC, and
the resilient caller on its own where the order of events must be exact."""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable
from typing import Any

import anthropic
import grpc
import httpx
import pytest

from tollgate.emulator.config import FaultKind, ScriptedFault
from tollgate.emulator.server import EmulatorServer
from tollgate.orchestrator.breaker import CircuitBreakers
from tollgate.orchestrator.concurrency import ConcurrencyLimits
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.resilience import ResilientCaller
from tollgate.orchestrator.retry import BackoffPolicy
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
StartOrchestrator = Callable[..., Awaitable[Stub]]
MakeSpec = Callable[..., orchestrator_pb2.GenerationSpec]
Calls = Callable[[], list[Any]]

SONNET = "claude-sonnet-5-5"
HAIKU = "claude-haiku-5-5"


async def _generate(
    stub: Stub, spec: orchestrator_pb2.GenerationSpec, timeout: float = 20
) -> orchestrator_pb2.GenerationResult:
    response = await stub.Generate(orchestrator_pb2.GenerateRequest(spec=spec), timeout=timeout)
    return response.result


async def test_529_on_the_primary_is_answered_by_the_fallback_model_which_is_named(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.fault_script = [ScriptedFault(FaultKind.OVERLOADED, model=SONNET)]
    result = await _generate(orchestrator, make_spec(model=SONNET))

    assert result.response.model == HAIKU
    assert result.fallback_reason == f"{SONNET} was overloaded (529)"
    assert result.upstream_attempts == 2
    assert result.response.content[0].text.text
    calls = upstream_calls()
    assert [(c.model, c.status) for c in calls] == [(SONNET, 529), (HAIKU, 200)]
    # Priced at the fallback model's rates: haiku input is 100,000 micro-dollars per million.
    usage = result.response.usage
    assert result.cost.input_micros == -(-usage.input_tokens * 100_000 // 1_000_000)


async def test_a_400_is_never_retried(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    spec = make_spec(max_tokens=emulator.config.max_output_tokens + 1)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _generate(orchestrator, spec)

    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "Claude rejected the request" in (caught.value.details() or "")
    assert [c.status for c in upstream_calls()] == [400]


async def test_retry_after_is_honoured_before_the_next_attempt(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.fault_script = [ScriptedFault(FaultKind.RATE_LIMIT, retry_after_s=0.6)]
    result = await _generate(orchestrator, make_spec())

    assert result.upstream_attempts == 2
    assert result.fallback_reason == ""
    first, second = upstream_calls()
    assert (first.status, second.status) == (429, 200)
    # Lower bound only: the second attempt did not start before the server's hint.
    assert second.started_at - first.started_at >= 0.6


async def test_server_errors_and_dropped_connections_are_retried_on_the_same_model(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.fault_script = [
        ScriptedFault(FaultKind.API_ERROR),
        ScriptedFault(FaultKind.CONNECTION_DROP),
    ]
    result = await _generate(orchestrator, make_spec())

    assert result.upstream_attempts == 3
    assert result.response.model == SONNET
    assert [c.model for c in upstream_calls()] == [SONNET] * 3


async def test_a_retry_that_would_end_past_the_deadline_is_not_made(
    make_spec: MakeSpec,
    upstream_calls: Calls,
    emulator: EmulatorServer,
    start_orchestrator: StartOrchestrator,
) -> None:
    emulator.config.fault_script = [ScriptedFault(FaultKind.RATE_LIMIT, retry_after_s=30)]
    # No fallback model: otherwise the chain would move on rather than wait.
    orchestrator = await start_orchestrator(task_fallbacks={})
    spec = make_spec()
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _generate(orchestrator, spec, timeout=3)

    # The orchestrator answered (UNAVAILABLE with the hint), not the client's own deadline.
    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    assert "past the request's deadline" in (caught.value.details() or "")
    assert len(upstream_calls()) == 1


async def test_a_slow_answer_ends_at_the_deadline_and_the_upstream_call_is_dropped(
    make_spec: MakeSpec,
    upstream_calls: Calls,
    emulator: EmulatorServer,
    start_orchestrator: StartOrchestrator,
) -> None:
    stub = await start_orchestrator(task_fallbacks={})
    emulator.config.latency.ttft_ms = 5000
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _generate(stub, make_spec(), timeout=1.0)

    assert caught.value.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    calls = upstream_calls()
    assert len(calls) == 1
    for _ in range(50):
        if calls[0].client_disconnected:
            break
        await asyncio.sleep(0.1)
    assert calls[0].client_disconnected


async def test_an_open_circuit_sends_work_straight_to_the_fallback(
    make_spec: MakeSpec,
    upstream_calls: Calls,
    emulator: EmulatorServer,
    start_orchestrator: StartOrchestrator,
) -> None:
    stub = await start_orchestrator(breaker_failure_threshold=1, breaker_open_seconds=60)
    emulator.config.fault_script = [ScriptedFault(FaultKind.OVERLOADED, model=SONNET)]
    first = await _generate(stub, make_spec(model=SONNET))
    second = await _generate(stub, make_spec(model=SONNET))

    assert first.fallback_reason == f"{SONNET} was overloaded (529)"
    assert second.fallback_reason == f"{SONNET}: circuit open"
    assert second.response.model == HAIKU
    assert second.upstream_attempts == 1
    assert [c.model for c in upstream_calls()] == [SONNET, HAIKU, HAIKU]


async def test_attempts_failing_together_count_once_against_the_models_circuit() -> None:
    """Five calls whose attempts are all in flight when the model answers each with a 500: one
    failure of the model, not five, so their retries stay on it. Failures one after another
    still open the circuit, and the call goes to the fallback."""
    breakers = CircuitBreakers(3, 60.0)
    caller = ResilientCaller(
        ConcurrencyLimits(8, 1, 64), breakers, BackoffPolicy(0.001, 0.001), max_attempts=4
    )
    every_first_attempt_out = asyncio.Barrier(5)

    def failing_first(failed: list[bool]) -> Callable[[str, float], Awaitable[str]]:
        async def attempt(model: str, _remaining: float) -> str:
            if not failed:
                failed.append(True)
                await every_first_attempt_out.wait()
                raise _server_error()
            return model

        return attempt

    together = [caller.call([SONNET, HAIKU], Deadline(10), failing_first([])) for _ in range(5)]
    assert await asyncio.gather(*together) == [SONNET] * 5
    assert not breakers.for_model(SONNET).is_open

    async def failing(model: str, _remaining: float) -> str:
        if model == SONNET:
            raise _server_error()
        return model

    assert await caller.call([SONNET, HAIKU], Deadline(10), failing) == HAIKU
    assert breakers.for_model(SONNET).is_open


def _server_error() -> anthropic.InternalServerError:
    request = httpx.Request("POST", "http://upstream/v1/messages")
    return anthropic.InternalServerError(
        "failed", response=httpx.Response(500, request=request), body=None
    )


async def test_when_every_model_is_overloaded_the_caller_gets_unavailable(
    make_spec: MakeSpec, upstream_calls: Calls, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.faults.overloaded = 1.0
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _generate(orchestrator, make_spec(model=SONNET))

    assert caught.value.code() == grpc.StatusCode.UNAVAILABLE
    models = [c.model for c in upstream_calls()]
    # One call to the primary (529 moves on at once), then the fallback's full retry budget.
    assert models == [SONNET] + [HAIKU] * 4
