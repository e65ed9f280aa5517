"""One Complete request through the suite (design §2): only the order lives here.

    decide flags → exact cache ∥ conversation optimization → semantic cache → budget hold
    → Claude (through the orchestrator) → settle (savings, account, each step's after-work)

Each optimization is a step (tollgate.gateway.steps) with `before`, `savings`, `on_answer`,
`on_failure` and `on_broken` hooks. `complete()` and `stream()` run the same loop and differ
only in how they call the orchestrator and what they send the caller.

Optimization services fail open: when one is slow or down the request goes on without it and
the account says so. Budget enforcement fails open or closed per tenant. A stream that breaks off
after Claude began is charged for what was produced (broken_stream.py), not given back.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
import time
from collections.abc import AsyncGenerator, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

import grpc

from tollgate.common.errors import ServiceError, unavailable
from tollgate.common.pricing import PriceTable
from tollgate.common.tasks import task_name
from tollgate.common.template_versions import TemplateVersions
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.broken_stream import StreamTally
from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import Decisions, FlagsSource
from tollgate.gateway.metrics import instruments
from tollgate.gateway.relay import Relay
from tollgate.gateway.replay import replay_events
from tollgate.gateway.routing import BackendRouter, RequestRoutes
from tollgate.gateway.savings import SavingsCalculator
from tollgate.gateway.semantic_precision import PrecisionBoard
from tollgate.gateway.session_turns import Admit, SessionTurns
from tollgate.gateway.sessions import SessionStore
from tollgate.gateway.settings import Settings
from tollgate.gateway.steps.base import Answer, Draft, Request, Step, StepServices
from tollgate.gateway.steps.budget_hold import BudgetHoldStep
from tollgate.gateway.steps.conversation_optimization import ConversationOptimizationStep
from tollgate.gateway.steps.exact_cache import ExactCacheStep
from tollgate.gateway.steps.prompt_caching import PromptCachingStep
from tollgate.gateway.steps.semantic_cache import SemanticCacheStep
from tollgate.v1 import common_pb2, gateway_pb2, orchestrator_pb2

if TYPE_CHECKING:
    from tollgate.gateway.agent_profiles import AgentProfiles

# What the orchestrator sends back: stream events, then one result.
Upstream = Callable[
    [RequestRoutes, orchestrator_pb2.GenerationSpec, float],
    AsyncGenerator["common_pb2.StreamEvent | orchestrator_pb2.GenerationResult", None],
]


log = logging.getLogger("tollgate.gateway")


@dataclass(frozen=True)
class Final:
    """The last thing a request yields: the answer and its account."""

    response: common_pb2.ClaudeResponse
    account: common_pb2.Account


class RequestRun:
    """One request's steps, in the order they run, and what they decided so far."""

    def __init__(self, request: Request, decisions: Decisions, services: StepServices) -> None:
        self.request = request
        self.services = services
        self.started = time.perf_counter()
        self.decisions = decisions
        self.exact = ExactCacheStep(request, decisions.exact_cache, services)
        self.optimize = ConversationOptimizationStep(
            request, decisions.conversation_optimization, decisions.prompt_caching, services
        )
        self.semantic = SemanticCacheStep(
            request, decisions.semantic_cache, services, decisions.budget_enforcement
        )
        self.budget = BudgetHoldStep(request, decisions.budget_enforcement, services)
        self.prompt_caching = PromptCachingStep(decisions.prompt_caching)
        self.draft = Draft(request=request.completion.request)

    @property
    def steps(self) -> tuple[Step, ...]:
        # The order of the account's reports.
        return (self.exact, self.optimize, self.semantic, self.budget, self.prompt_caching)

    async def look_up(self) -> None:
        """Exact cache ∥ optimization, then the semantic cache on the optimized request."""
        decisions = self.decisions
        if decisions.exact_cache.active and self.optimize.calls_optimizer():
            first = await asyncio.gather(
                self.exact.before(self.draft), self.optimize.before(self.draft)
            )
        else:
            # At most one of them calls its service (an inactive step, or an optimization with
            # nothing to cut, returns at once): side by side would only cost two tasks.
            first = (await self.exact.before(self.draft), await self.optimize.before(self.draft))
        for effect in first:
            self.draft = self.draft.apply(effect)
        if self.draft.cached is None:
            self.draft = self.draft.apply(await self.semantic.before(self.draft))

    async def hold(self) -> None:
        self.draft = self.draft.apply(await self.budget.before(self.draft))

    def spec(self) -> orchestrator_pb2.GenerationSpec:
        spec = orchestrator_pb2.GenerationSpec(
            context=self.request.context,
            request=self.draft.request,
            template_variables=self.request.completion.template_variables,
            agent_profile=self.request.agent_profile,
        )
        self.prompt_caching.shape(spec)
        if spec.prompt_caching:
            # Where the optimized conversation's cacheable prefix ends (0: not optimized).
            spec.stable_prefix_messages = self.optimize.stable_messages
        return spec

    def settle(self, answer: Answer) -> common_pb2.Account:
        """Savings from every step, the account, then each step's work after the answer."""
        removed_before_claude = sum(step.savings(answer) for step in self.steps)
        account = self._account(answer, answer.uncached_micros + removed_before_claude)
        for step in self.steps:
            step.on_answer(answer, account)
        _count(answer, account)
        return account

    def fail(self) -> None:
        for step in reversed(self.steps):
            step.on_failure()

    def charge_broken(self, answer: Answer) -> None:
        """An answer that broke off after Claude began, `answer` being what was produced."""
        account = self._account(answer, answer.uncached_micros)
        for step in reversed(self.steps):
            step.on_broken(answer, account)

    def _cache_status(self) -> common_pb2.CacheStatus:
        if self.draft.cached is not None:
            return self.draft.cached.status
        if self.request.completion.cache.mode == gateway_pb2.CACHE_MODE_BYPASS:
            return common_pb2.CACHE_STATUS_BYPASS
        looked_up = self.exact.report is not None or self.semantic.report is not None
        return common_pb2.CACHE_STATUS_MISS if looked_up else common_pb2.CACHE_STATUS_BYPASS

    def _account(self, answer: Answer, baseline: int) -> common_pb2.Account:
        hold = self.budget.hold
        cost = common_pb2.Cost()
        cost.CopyFrom(answer.cost)
        # The optimizer's summaries were Claude calls made for this request: charged with it.
        cost.summary_micros = self.optimize.summary_cost_micros
        cost.total_micros += cost.summary_micros
        return common_pb2.Account(
            request_id=self.request.context.request_id,
            trace_id=self.request.context.trace_id,
            usage=common_pb2.Usage() if answer.from_cache else answer.response.usage,
            cost=cost,
            baseline_cost_micros=max(baseline, cost.total_micros),
            saved_micros=max(0, baseline - cost.total_micros),
            cache_status=self._cache_status(),
            similarity=answer.cached.similarity if answer.cached else 0.0,
            model=answer.response.model,
            optimizations=[step.report for step in self.steps if step.report is not None],
            served_by=self.services.routes.served_by,
            budget=hold.snapshot if hold and hold.snapshot else None,
            fallback_reason=answer.fallback_reason,
            latency_micros=int((time.perf_counter() - self.started) * 1_000_000),
        )


def _count(answer: Answer, account: common_pb2.Account) -> None:
    tools = instruments()
    model = answer.response.model
    if not answer.from_cache:
        tools.cost_micros.add(answer.cost.total_micros, {"model": model})
    for report in account.optimizations:
        if report.applied and report.micros_saved > 0:
            tools.saved_micros.add(report.micros_saved, {"optimization": report.optimization})


class CompletionPipeline:
    def __init__(
        self,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
        prices: PriceTable,
        background: BackgroundWork,
        budget: BudgetGuard,
        templates: TemplateVersions,
        profiles: AgentProfiles | None = None,
        sessions: SessionStore | None = None,
        admit: Admit | None = None,
    ) -> None:
        self._settings = settings
        # The orchestrators' template versions: read by the exact-cache step, taught by results.
        self._templates = templates
        # Looks up a request's agent_id; None: requests naming an agent are refused.
        self._profiles = profiles
        self._sessions = SessionTurns(sessions, background, settings.session_wait_seconds, admit)
        self._flags = flags
        self._router = router
        self._prices = prices
        self._savings = SavingsCalculator(prices)
        # Public so that shutdown and tests can wait for work after the answer.
        self.background = background
        self._budget = budget
        self._precision = PrecisionBoard()

    async def _agent_profile(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion
    ) -> common_pb2.AgentProfile | None:
        if not completion.agent_id:
            return None
        if self._profiles is None:
            raise unavailable("This gateway has no agent profile store configured.")
        # Always under the caller's own tenant: an agent id never reaches across tenants.
        return await self._profiles.resolve(context.tenant_id, completion.agent_id)

    def _start(
        self,
        context: common_pb2.RequestContext,
        completion: gateway_pb2.Completion,
        profile: common_pb2.AgentProfile | None,
    ) -> RequestRun:
        config = self._flags.config
        tenant, contact = context.tenant_id, context.contact_id
        services = StepServices(
            settings=self._settings,
            routes=RequestRoutes(self._router, config, tenant, contact),
            prices=self._prices,
            savings=self._savings,
            budget=self._budget,
            background=self.background,
            templates=self._templates,
            precision=self._precision,
        )
        # Decided under `config` (read above, with no await in between, so the same one).
        decisions = self._flags.decisions(tenant, contact)
        return RequestRun(Request(context, completion, profile), decisions, services)

    async def _run(
        self,
        context: common_pb2.RequestContext,
        completion: gateway_pb2.Completion,
        timeout: float,
        upstream: Upstream,
        replay: bool,
    ) -> AsyncGenerator[common_pb2.StreamEvent | Final, None]:
        """The one loop behind complete() and stream()."""
        profile = await self._agent_profile(context, completion)
        # With a session_id: the stored history + this turn, under the session's lease.
        completion, turn = await self._sessions.begin(context, completion)
        try:
            run = self._start(context, completion, profile)
            await run.look_up()
            cached = run.draft.cached
            if cached is None:
                await self._hold(run)
        except BaseException:
            if turn is not None:
                turn.abandon()
            raise
        if cached is not None:
            # Stored before the replay, so a caller who leaves mid-replay still has the turn.
            if turn is not None:
                turn.finish(cached.response)
            if replay:
                for event in replay_events(cached.response):
                    yield event
            answer = Answer(
                response=cached.response,
                cost=common_pb2.Cost(),
                uncached_micros=self._savings.uncached_cost(
                    cached.response.model, cached.response.usage
                ),
                cached=cached,
            )
            yield Final(cached.response, run.settle(answer))
            return

        def settle(result: orchestrator_pb2.GenerationResult) -> Final:
            # The turn first: it must end (and free its session) whatever happens after.
            if turn is not None:
                turn.finish(result.response)
            if result.template_version:
                self._templates.learn(
                    run.services.routes.orchestrator().name,
                    task_name(context.task),
                    result.template_version,
                )
            return Final(result.response, run.settle(self._generated(result)))

        # A stream's events are counted as they pass; a unary answer has none to count.
        tally = StreamTally() if replay else None

        def fail() -> None:
            broken = self._broken(tally) if tally is not None and tally.started else None
            if broken is None:
                run.fail()
            else:
                run.charge_broken(broken)
            if turn is not None:
                turn.abandon()

        try:
            spec = run.spec()
        except BaseException:
            fail()
            raise
        items = upstream(run.services.routes, spec, timeout)
        if tally is not None:
            items = tally.watch(items)
        # Read to the end even when the caller leaves: what Claude produced is billed.
        relay: Relay[common_pb2.StreamEvent, orchestrator_pb2.GenerationResult, Final] = Relay(
            items,
            orchestrator_pb2.GenerationResult,
            settle,
            fail,
        )
        # Closed here, not left to the event loop's finalizer (a task per request).
        async with contextlib.aclosing(relay.start(self.background)) as relayed:
            async for item in relayed:
                yield item

    @staticmethod
    async def _hold(run: RequestRun) -> None:
        try:
            await run.hold()
        except BaseException:
            # Refused or failed before Claude: give back the hold and the fill lease, so
            # nothing waits for an answer that will never come.
            run.fail()
            raise

    def _broken(self, tally: StreamTally) -> Answer | None:
        """The charge for a stream that broke off after Claude began; None when its model has no
        price here, and the hold is then given back as before."""
        response = tally.response()
        model, tools = response.model, instruments()
        try:
            cost = self._prices.cost(model, response.usage)
        except KeyError:
            tools.broken_streams.add(1, {"model": model, "outcome": "not_priced"})
            log.warning("broken stream not charged: no price", extra={"model": model})
            return None
        tools.broken_streams.add(1, {"model": model, "outcome": "charged"})
        # Spend like any answer's, so that the cost panels count it.
        tools.cost_micros.add(cost.total_micros, {"model": model})
        log.warning(
            "broken stream charged", extra={"model": model, "cost_micros": cost.total_micros}
        )
        uncached = self._savings.uncached_cost(model, response.usage)
        return Answer(response=response, cost=cost, uncached_micros=uncached)

    def _generated(self, result: orchestrator_pb2.GenerationResult) -> Answer:
        response = result.response
        return Answer(
            response=response,
            cost=result.cost,
            uncached_micros=self._savings.uncached_cost(response.model, response.usage),
            cache_breakpoints=result.cache_breakpoints,
            fallback_reason=result.fallback_reason,
            template_version=result.template_version,
        )

    async def complete(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion, timeout: float
    ) -> gateway_pb2.CompleteResponse:
        async with contextlib.aclosing(
            self._run(context, completion, timeout, _generate, replay=False)
        ) as items:
            async for item in items:
                if isinstance(item, Final):
                    return gateway_pb2.CompleteResponse(
                        response=item.response, account=item.account
                    )
        raise unavailable("The orchestrator ended the call without an answer; try again.")

    async def stream(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion, timeout: float
    ) -> AsyncGenerator[gateway_pb2.StreamCompleteResponse, None]:
        async with contextlib.aclosing(
            self._run(context, completion, timeout, _stream_generate, replay=True)
        ) as items:
            async for item in items:
                if isinstance(item, Final):
                    yield gateway_pb2.StreamCompleteResponse(account=item.account)
                else:
                    yield gateway_pb2.StreamCompleteResponse(event=item)


def _upstream_outcome(model: str, code: str) -> None:
    instruments().upstream_responses.add(1, {"model": model or "routed", "code": code})


async def _generate(
    routes: RequestRoutes, spec: orchestrator_pb2.GenerationSpec, timeout: float
) -> AsyncGenerator[common_pb2.StreamEvent | orchestrator_pb2.GenerationResult, None]:
    track = routes.orchestrator()
    try:
        reply = await dependencies.call(
            track,
            "Generate",
            track.stub.Generate,
            orchestrator_pb2.GenerateRequest(spec=spec),
            timeout,
        )
    except (DependencyDown, grpc.aio.AioRpcError) as exc:
        raise _orchestrator_error(spec, exc) from exc
    _upstream_outcome(reply.result.response.model, "OK")
    yield reply.result


async def _stream_generate(
    routes: RequestRoutes, spec: orchestrator_pb2.GenerationSpec, timeout: float
) -> AsyncGenerator[common_pb2.StreamEvent | orchestrator_pb2.GenerationResult, None]:
    track = routes.orchestrator()
    items: AsyncGenerator[orchestrator_pb2.StreamGenerateResponse, None] = dependencies.stream(
        track,
        "StreamGenerate",
        track.stub.StreamGenerate,
        orchestrator_pb2.StreamGenerateRequest(spec=spec),
        timeout,
    )
    try:
        async with contextlib.aclosing(items):
            async for item in items:
                if item.HasField("event"):
                    yield item.event
                else:
                    _upstream_outcome(item.result.response.model, "OK")
                    yield item.result
    except (DependencyDown, grpc.aio.AioRpcError) as exc:
        raise _orchestrator_error(spec, exc) from exc


def _orchestrator_error(
    spec: orchestrator_pb2.GenerationSpec, exc: DependencyDown | grpc.aio.AioRpcError
) -> ServiceError:
    error = exc.error if isinstance(exc, DependencyDown) else exc
    _upstream_outcome(spec.request.model, error.code().name if error else "CIRCUIT_OPEN")
    return orchestrator_failure(exc)


def orchestrator_failure(exc: DependencyDown | grpc.aio.AioRpcError) -> ServiceError:
    """What the caller is told when a call to the orchestrator failed or its breaker is open."""
    error = exc.error if isinstance(exc, DependencyDown) else exc
    if error is None:
        return unavailable("The orchestrator is unavailable; try again shortly.")
    return forward_error(error, "orchestrator")


def forward_error(exc: grpc.aio.AioRpcError, backend: str) -> ServiceError:
    """A backend's status passed on to the caller; its sentence is already meant for people."""
    code, message, metadata = dependencies.status_of(exc)
    if code in (grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        return ServiceError(
            f"The {backend} failed; try again shortly.", grpc.StatusCode.UNAVAILABLE
        )
    if code == grpc.StatusCode.UNAVAILABLE and not exc.details():
        message = f"The {backend} is unavailable; try again shortly."
    return ServiceError(message, code, metadata=metadata)
