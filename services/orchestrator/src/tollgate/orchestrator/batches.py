"""Non-urgent work through the Message Batches API, at its discount.

Each item is prepared exactly like a live generation (template, routed model, prompt-cache
breakpoints) and submitted under its own custom_id. The orchestrator keeps no store, so which
tenant owns a batch is remembered in memory for the life of the process: a batch is visible only
to the tenant that created it, and after a restart its results must be read before then or the
batch is reported as not found. Results are priced with the batch discount.
"""

from __future__ import annotations

import re
from collections.abc import AsyncIterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

import anthropic
from google.protobuf import timestamp_pb2

from tollgate.common.anthropic_format import response_from_json
from tollgate.common.errors import failed_precondition, invalid_argument, not_found
from tollgate.common.pricing import PriceTable
from tollgate.orchestrator.batch_pages import page_of
from tollgate.orchestrator.generator import Generator
from tollgate.orchestrator.upstream_errors import map_upstream_error
from tollgate.v1 import orchestrator_pb2

MAX_BATCH_ITEMS = 100_000
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")

_STATUS = {
    "in_progress": orchestrator_pb2.BATCH_STATUS_IN_PROGRESS,
    "canceling": orchestrator_pb2.BATCH_STATUS_CANCELING,
    "ended": orchestrator_pb2.BATCH_STATUS_ENDED,
}


@dataclass(frozen=True)
class ItemPlan:
    model: str
    template_version: str
    cache_breakpoints: int


@dataclass(frozen=True)
class BatchOwner:
    tenant_id: str
    items: dict[str, ItemPlan]
    request_id: str = ""


def _timestamp(moment: datetime | None) -> timestamp_pb2.Timestamp | None:
    if moment is None:
        return None
    stamp = timestamp_pb2.Timestamp()
    stamp.FromDatetime(moment)
    return stamp


def _batch_message(batch: Any, owner: BatchOwner) -> orchestrator_pb2.Batch:
    counts = batch.request_counts
    message = orchestrator_pb2.Batch(
        id=batch.id,
        tenant_id=owner.tenant_id,
        request_id=owner.request_id,
        status=_STATUS.get(batch.processing_status, orchestrator_pb2.BATCH_STATUS_UNSPECIFIED),
        counts=orchestrator_pb2.BatchCounts(
            processing=counts.processing,
            succeeded=counts.succeeded,
            errored=counts.errored,
            canceled=counts.canceled,
            expired=counts.expired,
        ),
    )
    created = _timestamp(batch.created_at)
    ended = _timestamp(batch.ended_at)
    if created is not None:
        message.created_at.CopyFrom(created)
    if ended is not None:
        message.ended_at.CopyFrom(ended)
    return message


def _batch_params(params: dict[str, Any]) -> dict[str, Any]:
    """A batch entry carries its whole body in `params`: no SDK-only keys such as extra_body."""
    body = dict(params)
    body.update(body.pop("extra_body", {}))
    return body


class BatchService:
    def __init__(
        self, client: anthropic.AsyncAnthropic, generator: Generator, prices: PriceTable
    ) -> None:
        self._client = client
        self._generator = generator
        self._prices = prices
        self._owners: dict[str, BatchOwner] = {}

    def _check_items(self, items: list[orchestrator_pb2.BatchItem]) -> None:
        if not items:
            raise invalid_argument("A batch needs at least one item.", "items")
        if len(items) > MAX_BATCH_ITEMS:
            raise invalid_argument(f"A batch holds at most {MAX_BATCH_ITEMS} items.", "items")
        seen: set[str] = set()
        for i, item in enumerate(items):
            if not _CUSTOM_ID.match(item.custom_id):
                raise invalid_argument(
                    "custom_id must be 1 to 64 letters, digits, '-' or '_'.",
                    f"items[{i}].custom_id",
                )
            if item.custom_id in seen:
                raise invalid_argument(
                    f"custom_id {item.custom_id!r} appears twice in the batch.",
                    f"items[{i}].custom_id",
                )
            seen.add(item.custom_id)

    async def create(
        self, tenant_id: str, items: list[orchestrator_pb2.BatchItem], request_id: str = ""
    ) -> orchestrator_pb2.Batch:
        self._check_items(items)
        entries: list[dict[str, Any]] = []
        plans: dict[str, ItemPlan] = {}
        for item in items:
            prepared = self._generator.prepare(item.spec)
            model = prepared.chain[0]
            call = self._generator.call_for(prepared, model)
            entries.append({"custom_id": item.custom_id, "params": _batch_params(call.params)})
            plans[item.custom_id] = ItemPlan(
                model, prepared.template_version, call.cache_breakpoints
            )
        try:
            batch = await self._client.messages.batches.create(requests=entries)  # type: ignore[arg-type]
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc
        owner = BatchOwner(tenant_id, plans, request_id)
        self._owners[batch.id] = owner
        return _batch_message(batch, owner)

    def _owner(self, tenant_id: str, batch_id: str) -> BatchOwner:
        owner = self._owners.get(batch_id)
        # Another tenant's batch is reported exactly like a missing one: ids leak nothing.
        if owner is None or owner.tenant_id != tenant_id:
            raise not_found(f"There is no batch {batch_id!r} for this tenant.")
        return owner

    async def get(self, tenant_id: str, batch_id: str) -> orchestrator_pb2.Batch:
        owner = self._owner(tenant_id, batch_id)
        try:
            batch = await self._client.messages.batches.retrieve(batch_id)
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc
        return _batch_message(batch, owner)

    async def list(
        self, tenant_id: str, limit: int = 0, before_id: str = "", after_id: str = ""
    ) -> tuple[list[orchestrator_pb2.Batch], bool]:
        """One page of the tenant's batches, newest first, and whether more lie beyond it.

        Ids are remembered in creation order; only the page's batches are fetched upstream.
        """
        owned = [batch_id for batch_id, o in self._owners.items() if o.tenant_id == tenant_id]
        page = page_of(owned[::-1], limit, before_id, after_id)
        return [await self.get(tenant_id, batch_id) for batch_id in page.ids], page.has_more

    async def cancel(self, tenant_id: str, batch_id: str) -> orchestrator_pb2.Batch:
        owner = self._owner(tenant_id, batch_id)
        try:
            batch = await self._client.messages.batches.cancel(batch_id)
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc
        return _batch_message(batch, owner)

    async def results(
        self, tenant_id: str, batch_id: str
    ) -> AsyncIterator[orchestrator_pb2.GetBatchResultsResponse]:
        owner = self._owner(tenant_id, batch_id)
        batch = await self.get(tenant_id, batch_id)
        if batch.status != orchestrator_pb2.BATCH_STATUS_ENDED:
            raise failed_precondition(
                f"Batch {batch_id!r} is still being processed; read its results once it has ended."
            )
        try:
            decoder = await self._client.messages.batches.results(batch_id)
            async for entry in decoder:
                yield self._item(owner, entry)
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc

    def _item(self, owner: BatchOwner, entry: Any) -> orchestrator_pb2.GetBatchResultsResponse:
        custom_id = entry.custom_id
        outcome = entry.result
        if outcome.type != "succeeded":
            detail = ""
            if outcome.type == "errored":
                detail = f": {outcome.error.error.message}"
            return orchestrator_pb2.GetBatchResultsResponse(
                custom_id=custom_id, error=f"{outcome.type}{detail}"
            )
        plan = owner.items.get(custom_id)
        response = response_from_json(outcome.message.model_dump())
        model = plan.model if plan else response.model
        result = orchestrator_pb2.GenerationResult(
            response=response,
            cost=self._prices.cost(model, response.usage, batch=True),
            upstream_attempts=1,
            template_version=plan.template_version if plan else "",
            cache_breakpoints=plan.cache_breakpoints if plan else 0,
        )
        return orchestrator_pb2.GetBatchResultsResponse(custom_id=custom_id, result=result)
