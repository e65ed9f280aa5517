"""Each classified item's answer in the tenant's exact cache, keyed by the item's text and the
instructions (every field of them, the caller's version included).

The cache service keys, scopes and expires entries by tenant and task like any other answer: an
item is stored as a one-message request (the item's text, under a system line naming the
instructions' SHA-256) with its answer as JSON text. A tenant's invalidation and TTLs apply to
these entries too. The cache fails open: an unreachable cache is a miss, a failed store is
skipped. Stores run in the gateway's background work after each result is streamed, a bounded
number at once per run.
"""

from __future__ import annotations

import asyncio
import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

import grpc

from tollgate.gateway import dependencies
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.routing import Track
from tollgate.v1 import cache_pb2, classification_pb2, common_pb2

log = logging.getLogger("tollgate.gateway.classification")

# Part of every key: a change to how items are stored or asked starts a new set of entries.
ITEM_CACHE_FORMAT = "classify-item@1"
# The orchestrator's task template that frames packed items (its `ListTemplates` name): its
# version is in every key too, so a new framing never serves results of the previous one.
TEMPLATE_TASK = "packed_classification"
Item = classification_pb2.ClassificationItem
Result = classification_pb2.ClassificationResult


def instructions_digest(instructions: classification_pb2.ClassificationInstructions) -> str:
    return hashlib.sha256(instructions.SerializeToString(deterministic=True)).hexdigest()


def _text(text: str) -> common_pb2.ContentBlock:
    return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))


def item_request(digest: str, model: str, item: Item) -> common_pb2.ClaudeRequest:
    return common_pb2.ClaudeRequest(
        model=model,
        max_tokens=1,
        temperature=0.0,
        system=[_text(f"classification instructions sha256:{digest}")],
        messages=[common_pb2.Message(role=common_pb2.ROLE_USER, content=[_text(item.text)])],
    )


def _stored(result: Result) -> common_pb2.ClaudeResponse:
    outcome = result.WhichOneof("outcome")
    value = {outcome: getattr(result, outcome)}
    return common_pb2.ClaudeResponse(
        model=result.model,
        content=[_text(json.dumps(value, sort_keys=True))],
        stop_reason=common_pb2.STOP_REASON_END_TURN,
    )


def _cached_result(item: Item, response: common_pb2.ClaudeResponse) -> Result | None:
    try:
        value = json.loads(response.content[0].text.text)
    except (IndexError, ValueError):
        return None
    result = Result(item_id=item.id, cached=True, model=response.model)
    if isinstance(value.get("label"), str):
        result.label = value["label"]
    elif isinstance(value.get("result_json"), str):
        result.result_json = value["result_json"]
    else:
        return None
    return result


@dataclass(frozen=True)
class ItemCache:
    track: Track[Any]
    context: common_pb2.RequestContext
    digest: str
    model: str
    timeout: float
    # Lookups at once, and stores at once: a run's stores go on in the background as its
    # results stream, so without a bound a run of thousands of items would send them all at once.
    in_flight: int
    # The version of TEMPLATE_TASK the run's orchestrator frames items with.
    template: str
    _store_gate: asyncio.Semaphore = field(init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        object.__setattr__(self, "_store_gate", asyncio.Semaphore(self.in_flight))

    def _context(self) -> common_pb2.RequestContext:
        context = common_pb2.RequestContext()
        context.CopyFrom(self.context)
        context.task = common_pb2.TASK_TYPE_CLASSIFICATION
        return context

    async def _ask(self, method: str, request: Any) -> Any:
        try:
            return await dependencies.call(
                self.track, method, getattr(self.track.stub, method), request, self.timeout
            )
        except (DependencyDown, grpc.aio.AioRpcError) as exc:
            log.warning("item cache %s skipped: %s", method, exc)
            return None

    async def lookup(self, items: Sequence[Item]) -> tuple[dict[str, Result], dict[str, str]]:
        """The items the cache holds an answer for, and every cacheable item's key."""
        gate = asyncio.Semaphore(self.in_flight)
        context = self._context()

        async def one(item: Item) -> tuple[Item, cache_pb2.ExactLookupResponse | None]:
            request = cache_pb2.ExactLookupRequest(
                context=context,
                request=item_request(self.digest, self.model, item),
                template_version=f"{ITEM_CACHE_FORMAT}+{self.template}",
            )
            async with gate:
                return item, await self._ask("ExactLookup", request)

        hits: dict[str, Result] = {}
        keys: dict[str, str] = {}
        for item, reply in await asyncio.gather(*(one(item) for item in items)):
            if reply is None or not reply.cacheable:
                continue
            keys[item.id] = reply.key
            found = _cached_result(item, reply.response) if reply.hit else None
            if found is not None:
                hits[item.id] = found
        return hits, keys

    async def store(self, key: str, result: Result) -> None:
        request = cache_pb2.ExactStoreRequest(
            context=self._context(), key=key, response=_stored(result)
        )
        async with self._store_gate:
            await self._ask("ExactStore", request)
