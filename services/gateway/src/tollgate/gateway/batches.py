"""Message Batches for callers of the gateway: through the orchestrator's batch RPCs, with one
budget hold for the whole batch at the batch price, settled when its results are read.

The hold is made under the batch's request id, which the orchestrator keeps with the batch
(`Batch.request_id`), so whichever gateway replica serves the results commits it; commits are
idempotent by request id, so reading the results twice charges once. Like every hold the
gateway makes, it is charged on expiry; it lives `batch_hold_ttl_seconds`: if the results are
not read by then, the ledger's sweeper charges the held amount (the batch's most) instead of
releasing it, so a batch nobody reads is still paid for, whatever gateway restarted meanwhile
(docs/budget_ledger.md).
"""

from __future__ import annotations

import math
from collections.abc import AsyncGenerator
from typing import Any

import grpc

from tollgate.common.errors import ServiceError
from tollgate.common.pricing import PriceTable
from tollgate.gateway import dependencies
from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import Decisions, FlagsSource
from tollgate.gateway.pipeline import orchestrator_failure
from tollgate.gateway.routing import BackendRouter, RequestRoutes, Track
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.budget_hold import billed_tokens, max_cost
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2, orchestrator_pb2


class BatchCalls:
    def __init__(
        self,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
        prices: PriceTable,
        budget: BudgetGuard,
    ) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router
        self._prices = prices
        self._budget = budget

    def _routes(self, context: common_pb2.RequestContext) -> RequestRoutes:
        return RequestRoutes(self._router, self._flags.config, context.tenant_id, "")

    def _decisions(self, context: common_pb2.RequestContext) -> Decisions:
        return self._flags.decisions(context.tenant_id, "")

    def hold_micros(self, completions: list[gateway_pb2.Completion]) -> int:
        """The most the whole batch can cost, at the batch discount."""
        full = sum(
            max_cost(self._settings, self._prices, c.request, c.template_variables)
            for c in completions
        )
        return math.ceil(full * (100 - self._prices.batch_discount_percent) / 100)

    async def _call(self, method: str, request: Any) -> Any:
        track: Track[Any] = self._routes(request.context).orchestrator()
        try:
            return await dependencies.call(
                track,
                method,
                getattr(track.stub, method),
                request,
                self._settings.orchestrator_timeout_seconds,
            )
        except (DependencyDown, grpc.aio.AioRpcError) as exc:
            raise orchestrator_failure(exc) from exc

    async def create(
        self,
        context: common_pb2.RequestContext,
        items: list[tuple[str, gateway_pb2.Completion]],
    ) -> orchestrator_pb2.Batch:
        decision = self._decisions(context).budget_enforcement
        routes = self._routes(context)
        held = False
        if decision.active:
            amount = max(1, self.hold_micros([completion for _, completion in items]))
            hold = await self._budget.reserve(
                routes.budget_ledger(),
                decision,
                context,
                amount,
                ttl_seconds=self._settings.batch_hold_ttl_seconds,
            )
            held = hold.held
        request = orchestrator_pb2.CreateBatchRequest(
            context=context,
            items=[
                orchestrator_pb2.BatchItem(
                    custom_id=custom_id,
                    spec=orchestrator_pb2.GenerationSpec(
                        context=context,
                        request=completion.request,
                        template_variables=completion.template_variables,
                    ),
                )
                for custom_id, completion in items
            ],
        )
        try:
            reply = await self._call("CreateBatch", request)
        except ServiceError:
            if held:
                self._budget.release(routes.budget_ledger(), context)
            raise
        batch: orchestrator_pb2.Batch = reply.batch
        return batch

    async def get(
        self, context: common_pb2.RequestContext, batch_id: str
    ) -> orchestrator_pb2.Batch:
        request = orchestrator_pb2.GetBatchRequest(context=context, batch_id=batch_id)
        batch: orchestrator_pb2.Batch = (await self._call("GetBatch", request)).batch
        return batch

    async def cancel(
        self, context: common_pb2.RequestContext, batch_id: str
    ) -> orchestrator_pb2.Batch:
        request = orchestrator_pb2.CancelBatchRequest(context=context, batch_id=batch_id)
        batch: orchestrator_pb2.Batch = (await self._call("CancelBatch", request)).batch
        return batch

    async def list(
        self, context: common_pb2.RequestContext, limit: int, before_id: str, after_id: str
    ) -> orchestrator_pb2.ListBatchesResponse:
        """One page of the tenant's batches (the orchestrator checks the cursors and limit)."""
        request = orchestrator_pb2.ListBatchesRequest(
            context=context, limit=limit, before_id=before_id, after_id=after_id
        )
        reply: orchestrator_pb2.ListBatchesResponse = await self._call("ListBatches", request)
        return reply

    async def results(
        self, context: common_pb2.RequestContext, batch_id: str
    ) -> AsyncGenerator[orchestrator_pb2.GetBatchResultsResponse, None]:
        """The items' outcomes; once all are read, the batch's cost is committed to its hold."""
        batch = await self.get(context, batch_id)
        routes = self._routes(context)
        track = routes.orchestrator()
        items: AsyncGenerator[orchestrator_pb2.GetBatchResultsResponse, None] = dependencies.stream(
            track,
            "GetBatchResults",
            track.stub.GetBatchResults,
            orchestrator_pb2.GetBatchResultsRequest(context=context, batch_id=batch_id),
            self._settings.orchestrator_timeout_seconds,
        )
        cost, usage = common_pb2.Cost(), common_pb2.Usage()
        model = ""
        try:
            async for item in items:
                if item.HasField("result"):
                    add_counts(cost, item.result.cost)
                    add_counts(usage, item.result.response.usage)
                    model = model or item.result.response.model
                yield item
        except (DependencyDown, grpc.aio.AioRpcError) as exc:
            raise orchestrator_failure(exc) from exc
        if batch.request_id and self._decisions(context).budget_enforcement.active:
            settled = common_pb2.RequestContext()
            settled.CopyFrom(context)
            settled.request_id = batch.request_id
            record = budget_ledger_pb2.UsageRecord(
                model=model,
                usage=usage,
                cost=cost,
                baseline_cost_micros=cost.total_micros,
                cache_status=common_pb2.CACHE_STATUS_BYPASS,
            )
            self._budget.commit(routes.budget_ledger(), settled, record, billed_tokens(usage))


def add_counts(total: Any, part: Any) -> None:
    """Add every integer field of `part` (a Cost or Usage) to `total`."""
    for descriptor, value in part.ListFields():
        if isinstance(value, int):
            setattr(total, descriptor.name, getattr(total, descriptor.name) + value)
