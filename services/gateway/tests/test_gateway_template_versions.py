"""Template versions in the exact cache's key: what the exact-cache step looks up and stores for a
request with template variables, and the versions the gateway's orchestrator tracks are read for
(tollgate.common.template_versions has its own tests in libs/common/tests)."""

from __future__ import annotations

from typing import Any

import grpc
import pytest

from tollgate.gateway.steps.base import Answer, Draft, Request
from tollgate.gateway.steps.exact_cache import ExactCacheStep
from tollgate.v1 import cache_pb2, common_pb2, orchestrator_pb2


def _listing(**versions: str) -> orchestrator_pb2.ListTemplatesResponse:
    return orchestrator_pb2.ListTemplatesResponse(versions=versions)


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
