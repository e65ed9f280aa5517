"""Fixtures of the orchestrator's tests: the Anthropic API emulator, the orchestrator running
in-process against it, and builders for generation specs."""

from __future__ import annotations

import contextlib
from collections.abc import AsyncIterator, Callable
from typing import Any, Protocol

import grpc
import pytest

from tollgate.common.testing import serving
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.server import EmulatorServer
from tollgate.orchestrator.service import build_service
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub


def text_block(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def user(text: str) -> common_pb2.Message:
    return common_pb2.Message(role=common_pb2.ROLE_USER, content=[text_block(text)])


def build_spec(
    text: str = "Is the house on Elm Street still for sale?",
    *,
    model: str = "claude-sonnet-5-5",
    system: str = "",
    max_tokens: int = 64,
    task: common_pb2.TaskType.ValueType = common_pb2.TASK_TYPE_CHAT,
    tenant: str = "tenant-a",
    **fields: Any,
) -> orchestrator_pb2.GenerationSpec:
    request = common_pb2.ClaudeRequest(model=model, max_tokens=max_tokens, messages=[user(text)])
    if system:
        request.system.append(text_block(system))
    return orchestrator_pb2.GenerationSpec(
        context=common_pb2.RequestContext(tenant_id=tenant, request_id="req-1", task=task),
        request=request,
        **fields,
    )


def messages_calls(emulator: EmulatorServer) -> list[Any]:
    return [r for r in emulator.stats.requests if r.path == "/v1/messages"]


@pytest.fixture
def make_spec() -> Callable[..., orchestrator_pb2.GenerationSpec]:
    """`make_spec(text, model=..., system=..., max_tokens=..., task=..., tenant=..., **fields)`."""
    return build_spec


@pytest.fixture
def upstream_calls(emulator: EmulatorServer) -> Callable[[], list[Any]]:
    """The /v1/messages requests the emulator has seen so far, oldest first."""
    return lambda: messages_calls(emulator)


class StartOrchestrator(Protocol):
    async def __call__(self, **overrides: Any) -> Stub: ...


@pytest.fixture
async def emulator() -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(config=EmulatorConfig(seed=7)) as server:
        yield server


@pytest.fixture
def settings_for(emulator: EmulatorServer) -> Callable[..., Settings]:
    def build(**overrides: Any) -> Settings:
        values: dict[str, Any] = {
            "host": "127.0.0.1",
            "port": 0,
            "anthropic_base_url": emulator.base_url,
            "anthropic_api_key": "test-key",
            # Short waits keep the tests quick; retry-after hints still set the floor.
            "backoff_base_seconds": 0.01,
            "backoff_max_seconds": 0.05,
        }
        values.update(overrides)
        return Settings(**values)

    return build


@pytest.fixture
async def start_orchestrator(
    settings_for: Callable[..., Settings],
) -> AsyncIterator[StartOrchestrator]:
    async with contextlib.AsyncExitStack() as stack:

        async def start(**overrides: Any) -> Stub:
            settings = settings_for(**overrides)
            running = await stack.enter_async_context(
                serving(await build_service(settings), settings)
            )
            channel = await stack.enter_async_context(grpc.aio.insecure_channel(running.address))
            return Stub(channel)

        yield start


@pytest.fixture
async def orchestrator(start_orchestrator: StartOrchestrator) -> Stub:
    return await start_orchestrator()
