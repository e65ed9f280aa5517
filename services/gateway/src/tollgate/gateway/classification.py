"""Classify for callers of the gateway: validate, answer what the tenant's item cache holds,
then send the other items to the orchestrator's ClassifyItems in chunks, each chunk under its
own budget hold.

Why one request and a server stream (not a client stream): the items and instructions are known
up front, so the whole request is checked before anything is spent or held (a bad schema or a
hostile item refuses the run, not its 900th item), the budget can be held chunk by chunk in
order, and the HTTP door can take the same request as one JSON body.

Budget: each chunk of `chunk_items` items is held at its estimated price (its items' tokens and
the per-call prompt, times the reservation margin, plus the max_tokens of its packed calls),
under the run's request id with the chunk's index, and committed with what its items cost once
its last result is in. A chunk the budget refuses is not sent; the chunks already running
finish, their results are streamed, and the stream then ends with RESOURCE_EXHAUSTED saying how
many items were answered. Results already sent stand and are charged.

Rate limits: the run counts as one request when it is accepted, and each chunk's tokens (the
same estimate as its hold, input and output) are counted against the key's and the tenant's
tokens per minute before the chunk is held; a chunk the limit refuses ends the run as a budget
refusal does.

A caller who leaves mid-run stops the run the same way: no further chunk starts, and the running
ones are read to their end in the gateway's background work, so what Claude answered for them is
charged and cached (as an abandoned Complete is).
"""

from __future__ import annotations

import asyncio
import contextlib
import math
from collections.abc import AsyncGenerator, Awaitable, Callable, Sequence

import grpc
from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict

from tollgate.common.classification import (
    AnswerRule,
    call_max_tokens,
    check_instructions,
    check_items,
    check_max_items_per_call,
)
from tollgate.common.errors import ServiceError, invalid_argument
from tollgate.common.pricing import PriceTable
from tollgate.common.template_versions import TemplateVersions
from tollgate.common.token_bound import upper_bound_text
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.batches import add_counts
from tollgate.gateway.budget import BudgetGuard, Hold
from tollgate.gateway.classification_cache import TEMPLATE_TASK, ItemCache, instructions_digest
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import Decisions, FlagsSource
from tollgate.gateway.pipeline import orchestrator_failure
from tollgate.gateway.routing import BackendRouter, RequestRoutes
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.budget_hold import billed_tokens, priced_at_most
from tollgate.v1 import (
    budget_ledger_pb2,
    classification_pb2,
    common_pb2,
    gateway_pb2,
    orchestrator_pb2,
)

Item = classification_pb2.ClassificationItem
Result = classification_pb2.ClassificationResult


class ClassificationSettings(BaseSettings):
    """TOLLGATE_GATEWAY_CLASSIFICATION_*."""

    model_config = SettingsConfigDict(env_prefix="TOLLGATE_GATEWAY_CLASSIFICATION_", extra="ignore")

    # Items per budget hold and per ClassifyItems call.
    chunk_items: int = Field(default=100, ge=1)
    # Chunks answered at once; the next chunk is held when one finishes.
    chunks_in_flight: int = Field(default=4, ge=1)
    # Items packed per Claude call when the request does not say (the orchestrator's default):
    # used only to estimate a chunk's hold.
    items_per_call_hint: int = Field(default=10, ge=1)
    # Prompt tokens of one packed call beyond the items and the instructions (its template and
    # the tool's framing): used only to estimate a chunk's hold.
    call_prompt_tokens: int = Field(default=400, ge=0)
    # Item cache lookups at once (and stores at once per run), and the limit on each lookup or
    # store: a bulk run is not waited on like one Complete, so it gives the cache more time than
    # the request path's CACHE_TIMEOUT_SECONDS rather than recompute items it holds.
    cache_lookups_in_flight: int = Field(default=32, ge=1)
    cache_timeout_seconds: float = Field(default=1.0, gt=0)


def check_request(request: gateway_pb2.ClassifyRequest, prices: PriceTable) -> AnswerRule:
    rule = check_instructions(request.instructions)
    check_items(request.items)
    check_max_items_per_call(request.max_items_per_call)
    model = request.instructions.model
    if model and not prices.knows(model):
        raise invalid_argument(
            f"Tollgate does not serve the model {model!r}; choose one of "
            f"{', '.join(prices.models)}.",
            "instructions.model",
        )
    return rule


# Counts a chunk's tokens against the caller's per-minute limits, or raises RESOURCE_EXHAUSTED.
AdmitTokens = Callable[[int], Awaitable[None]]
# What a caller whose chunk alone is over a tokens-per-minute limit can do about it.
CHUNK_TOO_BIG_HINT = "send fewer or shorter items (a run's items are counted a chunk at a time)"


def chunks(items: Sequence[Item], size: int) -> list[list[Item]]:
    return [list(items[i : i + size]) for i in range(0, len(items), size)]


class Classification:
    def __init__(
        self,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
        prices: PriceTable,
        budget: BudgetGuard,
        background: BackgroundWork,
        templates: TemplateVersions,
        classification: ClassificationSettings | None = None,
    ) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router
        self._prices = prices
        self._budget = budget
        self._background = background
        self.templates = templates
        self._config = classification or ClassificationSettings()

    def chunk_tokens(
        self, request: gateway_pb2.ClassifyRequest, rule: AnswerRule, items: Sequence[Item]
    ) -> tuple[int, int]:
        """At most how many input and output tokens one chunk's packed calls take."""
        per_call = request.max_items_per_call or self._config.items_per_call_hint
        calls = math.ceil(len(items) / per_call)
        instructions = request.instructions
        prompt = (
            self._config.call_prompt_tokens
            + upper_bound_text(instructions.prompt)
            + upper_bound_text(instructions.json_schema or "\n".join(instructions.labels.labels))
        )
        input_tokens = sum(upper_bound_text(item.text) for item in items) + calls * prompt
        input_tokens = int(input_tokens * self._settings.reservation_token_margin)
        full, rest = divmod(len(items), per_call)
        output_tokens = full * call_max_tokens(rule, per_call, 1 << 30)
        if rest:
            output_tokens += call_max_tokens(rule, rest, 1 << 30)
        return input_tokens, output_tokens

    def hold_micros(
        self, request: gateway_pb2.ClassifyRequest, rule: AnswerRule, items: Sequence[Item]
    ) -> int:
        """The estimated price of one chunk: see the module's docstring."""
        return self.price_of(request, *self.chunk_tokens(request, rule, items))

    def price_of(
        self, request: gateway_pb2.ClassifyRequest, input_tokens: int, output_tokens: int
    ) -> int:
        """At most what a chunk of these tokens costs, for the run's model."""
        return priced_at_most(
            self._settings, self._prices, request.instructions.model, input_tokens, output_tokens
        )

    async def run(
        self,
        context: common_pb2.RequestContext,
        request: gateway_pb2.ClassifyRequest,
        admit_tokens: AdmitTokens | None = None,
    ) -> AsyncGenerator[gateway_pb2.ClassifyResponse, None]:
        rule = check_request(request, self._prices)
        decisions = self._flags.decisions(context.tenant_id, "")
        routes = RequestRoutes(self._router, self._flags.config, context.tenant_id, "")
        cache = ItemCache(
            routes.cache(),
            context,
            instructions_digest(request.instructions),
            request.instructions.model,
            self._config.cache_timeout_seconds,
            self._config.cache_lookups_in_flight,
            await self.templates.version(routes.upcoming_orchestrator(), TEMPLATE_TASK),
        )
        # Results are cached under the template that frames them: not while it is unknown.
        use_cache = (
            decisions.exact_cache.active and not request.bypass_cache and bool(cache.template)
        )
        hits, keys = await cache.lookup(request.items) if use_cache else ({}, {})
        serve = decisions.exact_cache.enforce
        for item in request.items:
            if serve and item.id in hits:
                yield gateway_pb2.ClassifyResponse(result=hits[item.id])
        to_ask = [item for item in request.items if not (serve and item.id in hits)]
        answered = len(request.items) - len(to_ask)

        def remember(result: Result, framed_with: str) -> None:
            # Stored in the background once the result is on its way to the caller, who never
            # waits on a cache write (shutdown drains these with the other work after answers).
            if (
                result.WhichOneof("outcome") != "error"
                and result.item_id in keys
                and TemplateVersions.matches(cache.template, framed_with)
            ):
                store = cache.store(keys[result.item_id], result)
                self._background.spawn("classification cache store", store)

        run = _ChunkRun(self, context, request, rule, decisions, routes, remember, admit_tokens)
        results = run.results(chunks(to_ask, self._config.chunk_items))
        async with contextlib.aclosing(results):
            async for result in results:
                answered += 1
                yield gateway_pb2.ClassifyResponse(result=result)
        if run.stopped is not None:
            raise _stopped_after(run.stopped, answered, len(request.items))

    # Used by _ChunkRun.
    @property
    def budget(self) -> BudgetGuard:
        return self._budget

    @property
    def background(self) -> BackgroundWork:
        return self._background

    @property
    def chunks_in_flight(self) -> int:
        return self._config.chunks_in_flight

    @property
    def orchestrator_timeout(self) -> float:
        return self._settings.orchestrator_timeout_seconds


def _stopped_after(error: ServiceError, answered: int, total: int) -> ServiceError:
    return ServiceError(
        f"Stopped after answering {answered} of {total} items: {error.message}",
        error.code,
        metadata={**error.metadata, "answered_items": str(answered), "total_items": str(total)},
    )


class _ChunkRun:
    """The chunks of one run: held in order, answered concurrently, each committed when done."""

    def __init__(
        self,
        owner: Classification,
        context: common_pb2.RequestContext,
        request: gateway_pb2.ClassifyRequest,
        rule: AnswerRule,
        decisions: Decisions,
        routes: RequestRoutes,
        remember: Callable[[Result, str], None],
        admit_tokens: AdmitTokens | None = None,
    ) -> None:
        self._owner = owner
        self._admit_tokens = admit_tokens
        self._context = context
        self._request = request
        self._rule = rule
        self._decisions = decisions
        self._routes = routes
        self._remember = remember
        self._queue: asyncio.Queue[Result | None] = asyncio.Queue()
        # Why no further chunk was started (a budget refusal, the orchestrator down), if any.
        self.stopped: ServiceError | None = None
        self.abandoned = False

    def _chunk_context(self, index: int) -> common_pb2.RequestContext:
        context = common_pb2.RequestContext()
        context.CopyFrom(self._context)
        context.request_id = f"{self._context.request_id}:chunk-{index}"
        context.task = common_pb2.TASK_TYPE_CLASSIFICATION
        return context

    async def _admit(self, tokens: int) -> None:
        """Count the chunk's tokens against the per-minute limits (the run was counted as one
        request when it was accepted): a packed run calls Claude for every chunk, so without
        this one run could spend any number of tokens past a key's or tenant's limit."""
        if self._admit_tokens is not None:
            await self._admit_tokens(tokens)

    async def _hold(self, context: common_pb2.RequestContext, price: int) -> Hold | None:
        decision = self._decisions.budget_enforcement
        if not decision.active:
            return None
        return await self._owner.budget.reserve(
            self._routes.budget_ledger(), decision, context, max(1, price)
        )

    async def results(self, all_chunks: list[list[Item]]) -> AsyncGenerator[Result, None]:
        producer = asyncio.create_task(self._produce(all_chunks))
        read_all = False
        try:
            while (result := await self._queue.get()) is not None:
                yield result
            read_all = True
        finally:
            if not read_all:
                # The caller left mid-run: start no further chunk, but read the running ones to
                # their end in the background, so that what Claude answered is charged (and
                # cached), as an abandoned Complete is.
                self.abandoned = True
                self._owner.background.spawn("classification chunks", producer)
        await producer

    async def _produce(self, all_chunks: list[list[Item]]) -> None:
        gate = asyncio.Semaphore(self._owner.chunks_in_flight)
        tasks: list[asyncio.Task[None]] = []
        try:
            for index, items in enumerate(all_chunks):
                await gate.acquire()
                if self.stopped is not None or self.abandoned:
                    gate.release()
                    break
                context = self._chunk_context(index)
                input_tokens, output_tokens = self._owner.chunk_tokens(
                    self._request, self._rule, items
                )
                try:
                    await self._admit(input_tokens + output_tokens)
                    hold = await self._hold(
                        context, self._owner.price_of(self._request, input_tokens, output_tokens)
                    )
                except ServiceError as exc:
                    gate.release()
                    self.stopped = exc
                    break
                tasks.append(asyncio.create_task(self._chunk(context, items, hold, gate)))
            await asyncio.gather(*tasks)
        finally:
            for task in tasks:
                task.cancel()
            self._queue.put_nowait(None)

    async def _chunk(
        self,
        context: common_pb2.RequestContext,
        items: list[Item],
        hold: Hold | None,
        gate: asyncio.Semaphore,
    ) -> None:
        track = self._routes.orchestrator()
        call = orchestrator_pb2.ClassifyItemsRequest(
            context=context,
            instructions=self._request.instructions,
            items=items,
            max_items_per_call=self._request.max_items_per_call,
        )
        replies: AsyncGenerator[orchestrator_pb2.ClassifyItemsResponse, None] = dependencies.stream(
            track, "ClassifyItems", track.stub.ClassifyItems, call, self._owner.orchestrator_timeout
        )
        cost, usage, model = common_pb2.Cost(), common_pb2.Usage(), ""
        try:
            async for reply in replies:
                result = reply.result
                add_counts(cost, result.cost)
                add_counts(usage, result.usage)
                model = model or result.model
                self._queue.put_nowait(result)
                self._owner.templates.learn(track.name, TEMPLATE_TASK, reply.template_version)
                self._remember(result, reply.template_version)
        except (DependencyDown, grpc.aio.AioRpcError) as exc:
            self.stopped = self.stopped or orchestrator_failure(exc)
        finally:
            await replies.aclose()
            gate.release()
            # What the chunk's items cost is charged, even when the chunk broke part-way.
            if hold is not None and hold.held:
                record = budget_ledger_pb2.UsageRecord(
                    model=model,
                    task=common_pb2.TASK_TYPE_CLASSIFICATION,
                    usage=usage,
                    cost=cost,
                    baseline_cost_micros=cost.total_micros,
                    cache_status=common_pb2.CACHE_STATUS_MISS,
                )
                self._owner.budget.commit(
                    self._routes.budget_ledger(), context, record, billed_tokens(usage)
                )
