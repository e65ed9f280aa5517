"""Classify streams each result before the item cache stores it: the caller never waits on a
cache write, and every answered item is still stored (in the gateway's background work)."""

from __future__ import annotations

import asyncio
from typing import Any

import grpc
import pytest
import yaml

from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.classification import Classification
from tollgate.gateway.flags import FlagsSource
from tollgate.v1 import (
    cache_pb2,
    classification_pb2,
    common_pb2,
    gateway_pb2,
    orchestrator_pb2,
)

ITEMS = [classification_pb2.ClassificationItem(id=f"n{i}", text=f"note {i}") for i in range(3)]


class AnsweredItems:
    """ClassifyItems as the stub's streaming call: one result per item asked, then the end."""

    def __init__(
        self,
        request: orchestrator_pb2.ClassifyItemsRequest,
        framed_with: str = "packed_classification@1",
    ) -> None:
        self._framed_with = framed_with
        self._results = [
            classification_pb2.ClassificationResult(item_id=item.id, label="buyer", calls=1)
            for item in request.items
        ]

    def __aiter__(self) -> AnsweredItems:
        return self

    async def __anext__(self) -> orchestrator_pb2.ClassifyItemsResponse:
        if not self._results:
            raise StopAsyncIteration
        return orchestrator_pb2.ClassifyItemsResponse(
            result=self._results.pop(0), template_version=self._framed_with
        )

    def cancel(self) -> None:
        pass


REQUEST = gateway_pb2.ClassifyRequest(
    instructions=classification_pb2.ClassificationInstructions(
        labels=classification_pb2.LabelSet(labels=["buyer", "seller"])
    ),
    items=ITEMS,
)
CONTEXT = common_pb2.RequestContext(tenant_id="acme", request_id="run-1")


def _exact_cache_on() -> FlagsSource:
    flags = FlagsSource("")
    on = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}
    flags.apply_text(yaml.safe_dump({"version": 1, "flags": {"exact_cache": on}}), "file")
    return flags


def _classification(fakes: Any, flags: FlagsSource) -> Classification:
    return Classification(
        fakes.settings,
        flags,
        fakes.router,
        fakes.prices,
        BudgetGuard(fakes.settings, fakes.background),
        fakes.background,
        fakes.templates,
    )


@pytest.mark.parametrize(
    ("known", "framed_with", "looked_up", "stored"),
    [
        ("packed_classification@1", "packed_classification@1", 3, 3),
        # Mid-upgrade, a pod frames with the next template: its results are not kept under the
        # key of the one this gateway knows.
        ("packed_classification@1", "packed_classification@2", 3, 0),
        # Nothing known yet: the cache is neither read nor written.
        ("", "packed_classification@1", 0, 0),
    ],
)
async def test_results_are_cached_only_under_the_template_that_framed_them(
    fakes: Any, helpers: Any, known: str, framed_with: str, looked_up: int, stored: int
) -> None:
    cache = fakes.stubs["cache"]
    cache.replies["ExactLookup"] = cache_pb2.ExactLookupResponse(cacheable=True, key="k")
    cache.replies["ExactStore"] = cache_pb2.ExactStoreResponse(stored=True)
    fakes.stubs["orchestrator"].ClassifyItems = lambda request, timeout: AnsweredItems(
        request, framed_with
    )
    fakes.stubs["orchestrator"].replies["ListTemplates"] = (
        orchestrator_pb2.ListTemplatesResponse(versions={"packed_classification": known})
        if known
        else helpers.rpc_error(grpc.StatusCode.UNAVAILABLE)
    )
    classification = _classification(fakes, _exact_cache_on())
    labels = [reply.result.label async for reply in classification.run(CONTEXT, REQUEST)]
    await fakes.background.drain()
    assert labels == ["buyer"] * 3
    lookups = cache.asked("ExactLookup")
    assert len(lookups) == looked_up
    assert all(r.template_version == f"classify-item@1+{known}" for r in lookups)
    assert len(cache.asked("ExactStore")) == stored
    # What the results said is what the gateway expects from now on.
    stable = fakes.router.backends["orchestrator"].stable
    assert await fakes.templates.version(stable, "packed_classification") == framed_with


async def test_results_are_streamed_while_their_cache_stores_are_still_pending(
    fakes: Any,
) -> None:
    flags = _exact_cache_on()
    cache = fakes.stubs["cache"]
    cache.replies["ExactLookup"] = cache_pb2.ExactLookupResponse(cacheable=True, key="k")
    writes_may_finish = asyncio.Event()
    stored: list[cache_pb2.ExactStoreRequest] = []

    async def slow_store(request: cache_pb2.ExactStoreRequest, timeout: float) -> Any:
        await writes_may_finish.wait()
        stored.append(request)
        return cache_pb2.ExactStoreResponse()

    cache.ExactStore = slow_store
    fakes.stubs["orchestrator"].ClassifyItems = lambda request, timeout: AnsweredItems(request)
    fakes.stubs["orchestrator"].replies["ListTemplates"] = orchestrator_pb2.ListTemplatesResponse(
        versions={"packed_classification": "packed_classification@1"}
    )
    classification = _classification(fakes, flags)

    async def read_all() -> list[str]:
        return [reply.result.label async for reply in classification.run(CONTEXT, REQUEST)]

    # Without the stores finishing, the whole run is read (a run that waited on its stores would
    # never end here: the bound only turns that into a failure instead of a hang).
    assert await asyncio.wait_for(read_all(), timeout=30) == ["buyer"] * 3
    assert stored == []
    writes_may_finish.set()
    await fakes.background.drain()
    assert len(stored) == 3
    assert all(write.key == "k" and write.context.tenant_id == "acme" for write in stored)
