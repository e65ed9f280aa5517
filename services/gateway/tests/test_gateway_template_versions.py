"""Template versions in the exact cache's key: what the gateway learns and trusts, and what the
exact-cache step looks up and stores for a request with template variables."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest

from tollgate.common.template_versions import TemplateVersions, template_of
from tollgate.gateway.routing import Track
from tollgate.gateway.steps.base import Answer, Draft, Request
from tollgate.gateway.steps.exact_cache import ExactCacheStep
from tollgate.v1 import cache_pb2, common_pb2, orchestrator_pb2


@pytest.mark.parametrize(
    ("result_version", "template"),
    [
        ("chat@2", "chat@2"),
        ("chat@2+agent_profile@1", "chat@2"),
        ("agent_profile@1", "agent_profile@1"),
        ("", ""),
        # Not a template version: never trusted into a key.
        ("Chat@2", ""),
        ("chat@2\n", ""),
        ("chat@", ""),
        ("chat@-1", ""),
        ("a" * 65 + "@1", ""),
        ("chat@1234567890", ""),
        ("chat@2 OR 1=1", ""),
    ],
)
def test_the_template_of_a_result_version(result_version: str, template: str) -> None:
    assert template_of(result_version) == template


def _listing(**versions: str) -> orchestrator_pb2.ListTemplatesResponse:
    return orchestrator_pb2.ListTemplatesResponse(versions=versions)


def _with_canary(fakes: Any) -> Track[Any]:
    stable = fakes.router.backends["orchestrator"].stable
    canary = Track("orchestrator", "canary", "fake", None, FakeListing(), stable.breaker)
    fakes.router.backends["orchestrator"].canary = canary
    return canary


class FakeListing:
    """An orchestrator stub that answers ListTemplates and counts the calls."""

    def __init__(self, reply: Any = None) -> None:
        self.reply = reply if reply is not None else _listing(chat="chat@3")
        self.calls = 0

    async def ListTemplates(self, request: Any, timeout: float | None = None) -> Any:
        self.calls += 1
        await asyncio.sleep(0)
        if isinstance(self.reply, BaseException):
            raise self.reply
        return self.reply


async def test_a_deployment_is_asked_once_when_first_needed_and_then_by_the_polling(
    fakes: Any,
) -> None:
    stable = fakes.router.backends["orchestrator"].stable
    stable.stub = FakeListing(_listing(chat="chat@2", report="report@1"))
    canary = _with_canary(fakes)
    versions = TemplateVersions(
        lambda: fakes.router.backends["orchestrator"].tracks(), poll_seconds=0.01
    )
    await versions.start()
    try:
        await asyncio.sleep(0.05)
        # Nothing needed them yet: neither was asked (an orchestrator still starting would be
        # put into reconnect backoff by an early call).
        assert (stable.stub.calls, canary.stub.calls) == (0, 0)
        found = await asyncio.gather(*(versions.version(stable, "chat") for _ in range(5)))
        assert found == ["chat@2"] * 5
        assert stable.stub.calls == 1  # one read shared by the requests that needed it
        assert await versions.version(stable, "report") == "report@1"
        assert await versions.version(stable, "script") == ""
        stable.stub.reply = _listing(chat="chat@4")
        await asyncio.sleep(0.1)
        assert stable.stub.calls > 2
        assert await versions.version(stable, "chat") == "chat@4"
        assert canary.stub.calls == 0  # never needed: never polled
    finally:
        await versions.stop()


async def test_a_deployment_that_does_not_answer_is_asked_again_later_and_results_teach(
    fakes: Any, helpers: Any
) -> None:
    """An orchestrator of an older build has no ListTemplates: it is asked once a poll interval,
    not once a templated request, and what its results name is used meanwhile."""
    stable = fakes.router.backends["orchestrator"].stable
    stable.stub = FakeListing(helpers.rpc_error(grpc.StatusCode.UNIMPLEMENTED))
    versions = TemplateVersions(
        lambda: fakes.router.backends["orchestrator"].tracks(), poll_seconds=0.2
    )
    for _ in range(5):
        assert await versions.version(stable, "chat") == ""
    assert stable.stub.calls == 1
    versions.learn("stable", "chat", "chat@2+agent_profile@1")
    versions.learn("stable", "chat", "report@7")  # another task's template: not chat's
    versions.learn("stable", "report", "")
    assert await versions.version(stable, "chat") == "chat@2"
    assert await versions.version(stable, "report") == ""
    assert stable.stub.calls == 1
    await asyncio.sleep(0.25)
    stable.stub.reply = _listing(chat="chat@2", report="report@1")
    assert await versions.version(stable, "report") == "report@1"
    assert stable.stub.calls == 2
    await versions.version(stable, "chat")
    assert stable.stub.calls == 2  # read now: from here on the polling keeps it current


def test_an_answer_is_stored_only_under_the_template_that_made_it() -> None:
    assert TemplateVersions.matches("chat@2", "chat@2")
    assert TemplateVersions.matches("chat@2", "chat@2+agent_profile@1")
    assert not TemplateVersions.matches("chat@2", "chat@1")
    assert not TemplateVersions.matches("chat@2", "")
    assert not TemplateVersions.matches("", "")


async def test_only_well_formed_versions_of_their_own_task_are_kept(fakes: Any) -> None:
    stable = fakes.router.backends["orchestrator"].stable
    stable.stub = FakeListing(
        _listing(
            chat="chat@2",
            report="chat@9",  # names another task
            script="script@1\u202e",  # hostile bytes
            intervention="x" * 300,
        )
    )
    versions = fakes.templates
    assert await versions.version(stable, "chat") == "chat@2"
    for task in ("report", "script", "intervention"):
        assert await versions.version(stable, task) == ""


def test_choosing_the_orchestrator_early_does_not_count_it_as_serving(fakes: Any) -> None:
    routes = fakes.services().routes
    assert routes.upcoming_orchestrator().name == "stable"
    assert list(routes.served_by) == []
    routes.orchestrator()
    routes.orchestrator()
    assert [(s.service, s.track) for s in routes.served_by] == [("orchestrator", "stable")]


def _templated(helpers: Any) -> Request:
    request: Request = helpers.request()
    request.completion.template_variables["agency"] = "Harbor Homes"
    return request


def _answer(template_version: str) -> Answer:
    response = common_pb2.ClaudeResponse(model="claude-sonnet-5-5")
    return Answer(response, common_pb2.Cost(total_micros=10), 10, template_version=template_version)


def _miss(fakes: Any) -> Any:
    cache = fakes.stubs["cache"]
    cache.replies["ExactLookup"] = cache_pb2.ExactLookupResponse(
        cacheable=True, key="k" * 64, fill_lease="lease-1"
    )
    cache.replies["ExactStore"] = cache_pb2.ExactStoreResponse(stored=True)
    cache.replies["ExactRelease"] = cache_pb2.ExactReleaseResponse()
    return cache


async def test_a_templated_request_is_not_cached_while_its_template_is_unknown(
    fakes: Any, helpers: Any
) -> None:
    cache = _miss(fakes)
    fakes.stubs["orchestrator"].replies["ListTemplates"] = helpers.rpc_error(
        grpc.StatusCode.UNAVAILABLE
    )
    flags = helpers.on("exact_cache")
    request = _templated(helpers)
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    effect = await step.before(Draft(request.completion.request))
    assert effect.answer is None
    assert cache.asked("ExactLookup") == []
    assert step.report is not None
    assert "template is not known yet" in step.report.detail
    step.on_answer(_answer("chat@1"), common_pb2.Account())
    await fakes.background.drain()
    assert cache.asked("ExactStore") == []


@pytest.mark.parametrize(("made_with", "stored"), [("chat@2", True), ("chat@1", False)])
async def test_a_templated_answer_is_stored_only_under_its_own_template(
    fakes: Any, helpers: Any, made_with: str, stored: bool
) -> None:
    """A deployment's pods may render either version mid-upgrade: the answer of the other one is
    not kept under this key, and the fill lease is given back instead."""
    cache = _miss(fakes)
    fakes.stubs["orchestrator"].replies["ListTemplates"] = _listing(chat="chat@2")
    flags = helpers.on("exact_cache")
    request = _templated(helpers)
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    await step.before(Draft(request.completion.request))
    assert cache.asked("ExactLookup")[0].template_version == "chat@2"
    step.on_answer(_answer(made_with), common_pb2.Account())
    await fakes.background.drain()
    assert len(cache.asked("ExactStore")) == int(stored)
    assert [r.fill_lease for r in cache.asked("ExactRelease")] == ([] if stored else ["lease-1"])


async def test_a_request_without_template_variables_keeps_its_key(fakes: Any, helpers: Any) -> None:
    cache = _miss(fakes)
    fakes.stubs["orchestrator"].replies["ListTemplates"] = _listing(chat="chat@2")
    flags = helpers.on("exact_cache")
    request = helpers.request()
    step = ExactCacheStep(request, fakes.decisions(flags).exact_cache, fakes.services(flags))
    await step.before(Draft(request.completion.request))
    assert cache.asked("ExactLookup")[0].template_version == ""
    step.on_answer(_answer(""), common_pb2.Account())
    await fakes.background.drain()
    assert len(cache.asked("ExactStore")) == 1
