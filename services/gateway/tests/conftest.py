"""Fake backends for the gateway's unit tests: every backend's stub answers from a script and
records what it was asked, behind the real routing, breakers and call path."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import grpc
import pytest

from tollgate.common.breaker import CircuitBreaker
from tollgate.common.pricing import PriceTable
from tollgate.common.template_versions import TemplateVersions
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.flags import Decisions
from tollgate.gateway.flags_config import BACKENDS, parse_gateway_config
from tollgate.gateway.routing import Backend, BackendRouter, RequestRoutes, Track
from tollgate.gateway.savings import SavingsCalculator
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.base import Request, StepServices
from tollgate.v1 import common_pb2, gateway_pb2


def rpc_error(code: grpc.StatusCode, details: str = "") -> grpc.aio.AioRpcError:
    return grpc.aio.AioRpcError(code, grpc.aio.Metadata(), grpc.aio.Metadata(), details)


class FakeStub:
    """Each method returns its scripted reply (or raises it, if it is an exception)."""

    def __init__(self) -> None:
        self.replies: dict[str, Any] = {}
        self.calls: list[tuple[str, Any]] = []

    def __getattr__(self, method: str) -> Callable[..., Any]:
        if method.startswith("_"):
            raise AttributeError(method)

        async def rpc(request: Any, timeout: float | None = None) -> Any:
            self.calls.append((method, request))
            reply = self.replies[method]
            if isinstance(reply, BaseException):
                raise reply
            return reply

        return rpc

    def asked(self, method: str) -> list[Any]:
        return [request for name, request in self.calls if name == method]


@dataclass
class FakeSuite:
    settings: Settings
    stubs: dict[str, FakeStub] = field(default_factory=dict)
    router: BackendRouter = field(default_factory=BackendRouter)
    background: BackgroundWork = field(default_factory=BackgroundWork)
    prices: PriceTable = field(default_factory=PriceTable.load)
    templates: TemplateVersions = field(init=False)

    def __post_init__(self) -> None:
        # Learned from results, or told by a test; never polled here.
        self.templates = TemplateVersions(
            lambda: self.router.backends["orchestrator"].tracks(), poll_seconds=60.0
        )
        for name in BACKENDS:
            stub = FakeStub()
            breaker = CircuitBreaker(
                self.settings.breaker_failure_threshold, self.settings.breaker_open_seconds
            )
            track: Track[Any] = Track(name, "stable", "fake", None, stub, breaker)  # type: ignore[arg-type]
            self.stubs[name] = stub
            self.router.backends[name] = Backend(name, track)

    def services(self, flags_text: str = "") -> StepServices:
        config = parse_gateway_config(flags_text)
        return StepServices(
            settings=self.settings,
            routes=RequestRoutes(self.router, config, "acme", "contact-1"),
            prices=self.prices,
            savings=SavingsCalculator(self.prices),
            budget=BudgetGuard(self.settings, self.background),
            background=self.background,
            templates=self.templates,
        )

    @staticmethod
    def decisions(flags_text: str, tenant: str = "acme") -> Decisions:
        return Decisions.evaluate(parse_gateway_config(flags_text), tenant, "contact-1")


def on(key: str, mode: str = "enforce", **parameters: Any) -> str:
    """A flags file with one flag on for everyone."""
    import yaml

    flag = {"enabled": True, "rolloutPercent": 100, "mode": mode, "parameters": parameters}
    return yaml.safe_dump({"version": 1, "flags": {key: flag}})


def request(**fields: Any) -> Request:
    claude = common_pb2.ClaudeRequest(model="claude-sonnet-5-5", max_tokens=100, **fields)
    message = claude.messages.add(role=common_pb2.ROLE_USER)
    message.content.add().text.text = "How big is the garden?"
    context = common_pb2.RequestContext(tenant_id="acme", request_id="req-1", contact_id="c")
    return Request(context, gateway_pb2.Completion(request=claude))


def conversation() -> Request:
    """`request()` as the third turn of a conversation: history the optimizer may cut."""
    built = request()
    messages = built.completion.request.messages
    latest = common_pb2.Message()
    latest.CopyFrom(messages[0])
    messages[0].content[0].text.text = "We need four bedrooms."
    messages.add(role=common_pb2.ROLE_ASSISTANT).content.add().text.text = "Noted: four bedrooms."
    messages.append(latest)
    return built


@pytest.fixture
def fakes() -> FakeSuite:
    return FakeSuite(Settings(breaker_failure_threshold=3, breaker_open_seconds=60.0))


@pytest.fixture
def helpers() -> Any:
    """The module's helpers, for tests (conftest modules are not importable by name here)."""
    import types

    return types.SimpleNamespace(
        on=on, request=request, conversation=conversation, rpc_error=rpc_error
    )
