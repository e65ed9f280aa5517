"""Classify streams each result before the item cache stores it: the caller never waits on a
cache write, and every answered item is still stored (in the gateway's background work)."""

from __future__ import annotations

import asyncio
from typing import Any

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

    def __init__(self, request: orchestrator_pb2.ClassifyItemsRequest) -> None:
        self._results = [
            classification_pb2.ClassificationResult(item_id=item.id, label="buyer", calls=1)
            for item in request.items
        ]

    def __aiter__(self) -> AnsweredItems:
        return self

    async def __anext__(self) -> orchestrator_pb2.ClassifyItemsResponse:
        if not self._results:
            raise StopAsyncIteration
        return orchestrator_pb2.ClassifyItemsResponse(result=self._results.pop(0))

    def cancel(self) -> None:
        pass


async def test_results_are_streamed_while_their_cache_stores_are_still_pending(
    fakes: Any,
) -> None:
    flags = FlagsSource("")
    on = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}
    flags.apply_text(yaml.safe_dump({"version": 1, "flags": {"exact_cache": on}}), "file")
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
    classification = Classification(
        fakes.settings,
        flags,
        fakes.router,
        fakes.prices,
        BudgetGuard(
            fakes.settings.budget_ledger_timeout_seconds,
            fakes.background,
            fakes.settings.orchestrator_timeout_seconds,
        ),
        fakes.background,
    )
    request = gateway_pb2.ClassifyRequest(
        instructions=classification_pb2.ClassificationInstructions(
            labels=classification_pb2.LabelSet(labels=["buyer", "seller"])
        ),
        items=ITEMS,
    )
    context = common_pb2.RequestContext(tenant_id="acme", request_id="run-1")

    async def read_all() -> list[str]:
        return [reply.result.label async for reply in classification.run(context, request)]

    # Without the stores finishing, the whole run is read (a run that waited on its stores would
    # never end here: the bound only turns that into a failure instead of a hang).
    assert await asyncio.wait_for(read_all(), timeout=30) == ["buyer"] * 3
    assert stored == []
    writes_may_finish.set()
    await fakes.background.drain()
    assert len(stored) == 3
    assert all(write.key == "k" and write.context.tenant_id == "acme" for write in stored)
