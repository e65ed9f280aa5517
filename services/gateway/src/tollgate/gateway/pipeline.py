"""One Complete request through the suite (design §2).

1. Flags for this tenant and contact decide which optimizations act, which only report (shadow),
   and which are off.
2. In parallel: the exact cache on the request as sent (taking the fill lease on a miss) and the
   conversation optimizer.
3. The semantic cache on the optimized request.
4. On a miss: hold the most the request can cost in the ledger.
5. Claude, through the orchestrator (unary or streamed).
6. After the answer: commit the actual cost, store the answer in the caches (off the critical
   path), and account for what was saved.

Optimization services fail open: when one is slow or down the request goes on without it and
the account says so. Budget enforcement fails open or closed per tenant.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any

import grpc
from google.protobuf import duration_pb2

from tollgate.common.errors import ServiceError
from tollgate.common.pricing import PriceTable
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.budget import BudgetGuard, Hold
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import FlagDecision, FlagsSource, decide
from tollgate.gateway.flags_config import FLAG_KEYS
from tollgate.gateway.replay import replay_events
from tollgate.gateway.routing import BackendRouter, Track
from tollgate.gateway.savings import SavingsCalculator
from tollgate.gateway.settings import Settings
from tollgate.v1 import (
    budget_ledger_pb2,
    cache_pb2,
    common_pb2,
    conversation_optimizer_pb2,
    gateway_pb2,
    orchestrator_pb2,
    semantic_cache_pb2,
)

log = logging.getLogger("tollgate.gateway.pipeline")

ENFORCE = common_pb2.FLAG_MODE_ENFORCE
SHADOW = common_pb2.FLAG_MODE_SHADOW


def _duration(seconds: float) -> duration_pb2.Duration:
    duration = duration_pb2.Duration()
    duration.FromNanoseconds(int(seconds * 1e9))
    return duration


def _mode(decision: FlagDecision) -> common_pb2.FlagMode:
    return SHADOW if decision.shadow else ENFORCE


@dataclass
class Plan:
    """What the gateway decided and learned about one request before calling Claude."""

    context: common_pb2.RequestContext
    completion: gateway_pb2.Completion
    decisions: dict[str, FlagDecision]
    started: float
    # What goes to Claude: the caller's request, or the optimizer's shorter one.
    request: common_pb2.ClaudeRequest
    reports: dict[str, common_pb2.OptimizationReport] = field(default_factory=dict)
    served_by: list[common_pb2.ServedBy] = field(default_factory=list)
    tracks: dict[str, Track] = field(default_factory=dict)
    exact_key: str = ""
    exact_lease: str = ""
    # Set when a cache answers (enforce mode).
    cached: common_pb2.ClaudeResponse | None = None
    cache_status: common_pb2.CacheStatus = common_pb2.CACHE_STATUS_BYPASS
    similarity: float = 0.0
    # Shadow-mode hits: what a cache would have answered.
    shadow_hits: list[str] = field(default_factory=list)
    tokens_removed: int = 0
    # What the optimizer's summaries cost (only with the `summarize` strategy).
    summary_cost_micros: int = 0
    hold: Hold | None = None

    def report(self, key: str, mode: common_pb2.FlagMode) -> common_pb2.OptimizationReport:
        if key not in self.reports:
            self.reports[key] = common_pb2.OptimizationReport(optimization=key, mode=mode)
        return self.reports[key]


class CompletionPipeline:
    def __init__(
        self,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
        prices: PriceTable,
        background: BackgroundWork,
    ) -> None:
        self._settings = settings
        self._flags = flags
        self._router = router
        self._prices = prices
        self._savings = SavingsCalculator(prices)
        # Public so that shutdown and tests can wait for work after the answer.
        self.background = background
        self._budget = BudgetGuard(settings.budget_ledger_timeout_seconds, background)

    # ---- shared preparation ------------------------------------------------------------------

    def _track(self, plan: Plan, backend: str) -> Track:
        if backend not in plan.tracks:
            config = self._flags.config
            track = self._router.route(
                backend, config, plan.context.tenant_id, plan.context.contact_id
            )
            plan.tracks[backend] = track
            plan.served_by.append(common_pb2.ServedBy(service=backend, track=track.name))
        return plan.tracks[backend]

    async def prepare(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion
    ) -> Plan:
        config = self._flags.config
        decisions = {
            key: decide(config, key, context.tenant_id, context.contact_id) for key in FLAG_KEYS
        }
        plan = Plan(
            context=context,
            completion=completion,
            decisions=decisions,
            started=time.perf_counter(),
            request=completion.request,
        )
        await asyncio.gather(self._exact_lookup(plan), self._optimize(plan))
        if plan.cached is None:
            await self._semantic_lookup(plan)
        return plan

    async def _optional(
        self,
        plan: Plan,
        report: common_pb2.OptimizationReport,
        backend: str,
        method: str,
        request: Any,
        timeout: float,
    ) -> Any:
        """Call an optimization service; on any failure note it in the report and return None
        (optimizations fail open: the request goes on without them)."""
        try:
            return await dependencies.call(self._track(plan, backend), method, request, timeout)
        except (DependencyDown, grpc.aio.AioRpcError) as exc:
            report.detail = f"skipped: {exc}"
            return None

    async def _exact_lookup(self, plan: Plan) -> None:
        decision = plan.decisions["exact_cache"]
        if not decision.active:
            return
        report = plan.report("exact_cache", _mode(decision))
        wait = self._settings.exact_cache_wait_for_fill_seconds if decision.enforce else 0.0
        request = cache_pb2.ExactLookupRequest(
            context=plan.context,
            request=plan.completion.request,
            acquire_fill_lease=decision.enforce,
            wait_for_fill=duration_pb2.Duration(
                nanos=int(wait * 1e9) % 1_000_000_000, seconds=int(wait)
            ),
        )
        reply = await self._optional(
            plan,
            report,
            "cache",
            "ExactLookup",
            request,
            self._settings.cache_timeout_seconds + wait,
        )
        if reply is None:
            return
        if not reply.cacheable:
            report.detail = f"not cacheable: {reply.reason}"
            return
        if reply.hit:
            if decision.enforce:
                plan.cached = reply.response
                plan.cache_status = common_pb2.CACHE_STATUS_EXACT
                report.applied = True
            else:
                plan.shadow_hits.append("exact_cache")
                report.detail = "would have answered from the exact cache"
            return
        plan.exact_key = reply.key
        plan.exact_lease = reply.fill_lease
        report.detail = "miss"

    async def _optimize(self, plan: Plan) -> None:
        decision = plan.decisions["conversation_optimization"]
        if not decision.active:
            return
        report = plan.report("conversation_optimization", _mode(decision))
        request = conversation_optimizer_pb2.OptimizeConversationRequest(
            context=plan.context,
            request=plan.completion.request,
            target_tokens=int(decision.parameters.get("targetTokens", 0)),
            strategies=list(decision.parameters.get("strategies", [])),
            # Cutting a conversation rewrites Anthropic's prompt cache; with caching on, the
            # optimizer cuts in larger, rarer steps so that the cached prefix keeps paying off.
            prompt_caching=plan.decisions["prompt_caching"].enforce,
        )
        reply = await self._optional(
            plan,
            report,
            "conversation_optimizer",
            "OptimizeConversation",
            request,
            self._settings.conversation_optimizer_timeout_seconds,
        )
        if reply is None:
            return
        removed = max(0, reply.original_tokens - reply.optimized_tokens)
        report.tokens_saved = removed
        plan.summary_cost_micros = reply.summary_cost_micros
        report.detail = (
            f"{reply.original_tokens} → {reply.optimized_tokens} tokens, "
            f"{reply.turns_removed} turns removed"
        )
        if decision.enforce and removed > 0:
            plan.request = reply.request
            plan.tokens_removed = removed
            report.applied = True

    async def _semantic_lookup(self, plan: Plan) -> None:
        decision = plan.decisions["semantic_cache"]
        if not decision.active:
            return
        report = plan.report("semantic_cache", _mode(decision))
        request = semantic_cache_pb2.SemanticLookupRequest(
            context=plan.context,
            request=plan.request,
            min_similarity=float(decision.parameters.get("minSimilarity", 0.0)),
        )
        reply = await self._optional(
            plan,
            report,
            "semantic_cache",
            "SemanticLookup",
            request,
            self._settings.semantic_cache_timeout_seconds,
        )
        if reply is None:
            return
        if not reply.eligible:
            report.detail = f"not eligible: {reply.ineligible_reason}"
            return
        if not reply.hit:
            report.detail = f"miss{': ' + reply.rejection if reply.rejection else ''}"
            return
        if decision.enforce:
            plan.cached = reply.response
            plan.cache_status = common_pb2.CACHE_STATUS_SEMANTIC
            plan.similarity = reply.similarity
            report.applied = True
            report.detail = f"similar to {reply.matched_question!r} ({reply.similarity:.3f})"
        else:
            plan.shadow_hits.append("semantic_cache")
            report.detail = f"would have answered ({reply.similarity:.3f})"

    # ---- budget ------------------------------------------------------------------------------

    def _max_cost(self, request: common_pb2.ClaudeRequest) -> int:
        """The most this request can cost: estimated input (with a safety margin) + max_tokens,
        priced for the named model, else the dearest model the orchestrator may route to."""
        tokens = int(estimate_request(request) * self._settings.reservation_token_margin)
        models = [request.model] if request.model else self._settings.reservation_models
        known = [m for m in models if self._prices.knows(m)]
        if not known:
            return 0
        return max(self._prices.max_cost(m, tokens, request.max_tokens) for m in known)

    async def reserve(self, plan: Plan) -> None:
        decision = plan.decisions["budget_enforcement"]
        if not decision.active:
            return
        track = self._track(plan, "budget_ledger")
        try:
            plan.hold = await self._budget.reserve(
                track, decision, plan.context, max(1, self._max_cost(plan.request))
            )
        except BaseException:
            # Refused (over budget, ledger down): identical requests waiting on this one's
            # exact-cache fill lease must not wait for an answer that will never come.
            self.release(plan)
            raise
        plan.reports["budget_enforcement"] = plan.hold.report

    def release(self, plan: Plan) -> None:
        """Claude failed: give the hold and the fill lease back so nothing waits for them."""
        if plan.hold is not None and plan.hold.held:
            self._budget.release(plan.tracks["budget_ledger"], plan.context)
        if plan.exact_lease:
            request = cache_pb2.ExactReleaseRequest(
                context=plan.context, key=plan.exact_key, fill_lease=plan.exact_lease
            )
            self.background.spawn(
                "cache release",
                dependencies.call(
                    plan.tracks["cache"],
                    "ExactRelease",
                    request,
                    self._settings.cache_timeout_seconds,
                ),
            )

    # ---- after the answer --------------------------------------------------------------------

    def account_for_cache_hit(self, plan: Plan) -> common_pb2.Account:
        assert plan.cached is not None
        response = plan.cached
        baseline = self._savings.uncached_cost(response.model, response.usage)
        key = (
            "exact_cache"
            if plan.cache_status == common_pb2.CACHE_STATUS_EXACT
            else "semantic_cache"
        )
        report = plan.reports[key]
        report.tokens_saved = response.usage.input_tokens + response.usage.output_tokens
        report.micros_saved = baseline
        account = self._account(plan, response, common_pb2.Cost(), baseline)
        self._record_usage(plan, response, account)
        if plan.cache_status == common_pb2.CACHE_STATUS_SEMANTIC:
            # This request missed the exact cache and holds its fill lease: store the answer it
            # got, so identical requests hit at once instead of waiting for a lease that no
            # call to Claude will ever fill.
            self._store_exact(plan, response)
        return account

    def _store_exact(self, plan: Plan, response: common_pb2.ClaudeResponse) -> None:
        """Store the answer under the exact key (and give the fill lease back with it)."""
        if not plan.exact_key:
            return
        store = cache_pb2.ExactStoreRequest(
            context=plan.context,
            key=plan.exact_key,
            response=response,
            tags=list(plan.completion.tags),
            fill_lease=plan.exact_lease,
        )
        self.background.spawn(
            "exact store",
            dependencies.call(
                plan.tracks["cache"], "ExactStore", store, self._settings.cache_timeout_seconds * 5
            ),
        )

    @staticmethod
    def _semantic_storable(plan: Plan) -> bool:
        """Only answers a caller asked to be deterministic are worth serving to paraphrases: a
        sampled answer (temperature above 0) is one draw among many."""
        request = plan.completion.request
        deterministic = request.HasField("temperature") and request.temperature == 0.0
        return deterministic and plan.decisions["semantic_cache"].active

    def account_for_generation(
        self, plan: Plan, result: orchestrator_pb2.GenerationResult
    ) -> common_pb2.Account:
        response = result.response
        model = response.model
        uncached = self._savings.uncached_cost(model, response.usage)
        removed_micros = self._savings.input_cost(model, plan.tokens_removed)
        optimizer = plan.reports.get("conversation_optimization")
        if optimizer is not None:
            optimizer.micros_saved = (
                self._savings.input_cost(model, optimizer.tokens_saved) - plan.summary_cost_micros
            )
        caching = plan.decisions["prompt_caching"]
        if caching.active:
            report = plan.report("prompt_caching", _mode(caching))
            report.applied = caching.enforce and result.cache_breakpoints > 0
            report.tokens_saved = response.usage.cache_read_input_tokens
            report.micros_saved = uncached - result.cost.total_micros if report.applied else 0
            report.detail = (
                f"{result.cache_breakpoints} breakpoints, "
                f"{response.usage.cache_read_input_tokens} tokens read, "
                f"{response.usage.cache_creation_input_tokens} written"
            )
        for key in plan.shadow_hits:
            plan.reports[key].micros_saved = result.cost.total_micros
        baseline = uncached + removed_micros
        account = self._account(plan, response, result.cost, baseline)
        account.fallback_reason = result.fallback_reason
        self._settle(plan, result, account)
        return account

    def _account(
        self,
        plan: Plan,
        response: common_pb2.ClaudeResponse,
        cost: common_pb2.Cost,
        baseline: int,
    ) -> common_pb2.Account:
        return common_pb2.Account(
            request_id=plan.context.request_id,
            trace_id=plan.context.trace_id,
            usage=response.usage if plan.cached is None else common_pb2.Usage(),
            cost=cost,
            baseline_cost_micros=max(baseline, cost.total_micros),
            saved_micros=max(0, baseline - cost.total_micros),
            cache_status=plan.cache_status
            if plan.cached is not None
            else (
                common_pb2.CACHE_STATUS_MISS
                if "exact_cache" in plan.reports or "semantic_cache" in plan.reports
                else common_pb2.CACHE_STATUS_BYPASS
            ),
            similarity=plan.similarity,
            model=response.model,
            optimizations=list(plan.reports.values()),
            served_by=plan.served_by,
            budget=plan.hold.snapshot if plan.hold and plan.hold.snapshot else None,
            latency_micros=int((time.perf_counter() - plan.started) * 1_000_000),
        )

    def _usage_record(
        self, plan: Plan, response: common_pb2.ClaudeResponse, account: common_pb2.Account
    ) -> budget_ledger_pb2.UsageRecord:
        return budget_ledger_pb2.UsageRecord(
            model=response.model,
            task=plan.context.task,
            usage=account.usage,
            cost=account.cost,
            baseline_cost_micros=account.baseline_cost_micros,
            cache_status=account.cache_status,
            optimizations=account.optimizations,
        )

    def _record_usage(
        self, plan: Plan, response: common_pb2.ClaudeResponse, account: common_pb2.Account
    ) -> None:
        if not plan.decisions["budget_enforcement"].active:
            return
        track = self._track(plan, "budget_ledger")
        self._budget.record_usage(track, plan.context, self._usage_record(plan, response, account))

    def _settle(
        self, plan: Plan, result: orchestrator_pb2.GenerationResult, account: common_pb2.Account
    ) -> None:
        response = result.response
        if plan.hold is not None and plan.hold.held:
            usage = response.usage
            tokens = (
                usage.input_tokens
                + usage.output_tokens
                + usage.cache_read_input_tokens
                + usage.cache_creation_input_tokens
            )
            record = self._usage_record(plan, response, account)
            self._budget.commit(plan.tracks["budget_ledger"], plan.context, record, tokens)
        self._store_exact(plan, response)
        if self._semantic_storable(plan):
            semantic = semantic_cache_pb2.SemanticStoreRequest(
                context=plan.context,
                request=plan.request,
                response=response,
                tags=list(plan.completion.tags),
            )
            self.background.spawn(
                "semantic store",
                dependencies.call(
                    plan.tracks["semantic_cache"],
                    "SemanticStore",
                    semantic,
                    self._settings.semantic_cache_timeout_seconds * 4,
                ),
            )

    # ---- the two ways to answer --------------------------------------------------------------

    def spec(self, plan: Plan) -> orchestrator_pb2.GenerationSpec:
        caching = plan.decisions["prompt_caching"]
        ttl = str(caching.parameters.get("ttl", "5m"))
        return orchestrator_pb2.GenerationSpec(
            context=plan.context,
            request=plan.request,
            template_variables=plan.completion.template_variables,
            prompt_caching=caching.enforce,
            prompt_cache_ttl=common_pb2.CACHE_TTL_1H if ttl == "1h" else common_pb2.CACHE_TTL_5M,
        )

    async def complete(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion, timeout: float
    ) -> gateway_pb2.CompleteResponse:
        plan = await self.prepare(context, completion)
        if plan.cached is not None:
            return gateway_pb2.CompleteResponse(
                response=plan.cached, account=self.account_for_cache_hit(plan)
            )
        await self.reserve(plan)
        orchestrator = self._track(plan, "orchestrator")
        try:
            reply = await orchestrator.stub.Generate(
                orchestrator_pb2.GenerateRequest(spec=self.spec(plan)), timeout=timeout
            )
        except BaseException as exc:
            self.release(plan)
            if isinstance(exc, grpc.aio.AioRpcError):
                raise forward_error(exc, "orchestrator") from exc
            raise
        account = self.account_for_generation(plan, reply.result)
        return gateway_pb2.CompleteResponse(response=reply.result.response, account=account)

    async def stream(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion, timeout: float
    ) -> AsyncIterator[gateway_pb2.StreamCompleteResponse]:
        plan = await self.prepare(context, completion)
        if plan.cached is not None:
            for event in replay_events(plan.cached):
                yield gateway_pb2.StreamCompleteResponse(event=event)
            yield gateway_pb2.StreamCompleteResponse(account=self.account_for_cache_hit(plan))
            return
        await self.reserve(plan)
        orchestrator = self._track(plan, "orchestrator")
        call = orchestrator.stub.StreamGenerate(
            orchestrator_pb2.StreamGenerateRequest(spec=self.spec(plan)), timeout=timeout
        )
        finished = False
        try:
            async for item in call:
                if item.HasField("event"):
                    yield gateway_pb2.StreamCompleteResponse(event=item.event)
                else:
                    finished = True
                    account = self.account_for_generation(plan, item.result)
                    yield gateway_pb2.StreamCompleteResponse(account=account)
        except grpc.aio.AioRpcError as exc:
            raise forward_error(exc, "orchestrator") from exc
        finally:
            # The caller went away or the stream broke: stop the upstream call and, if no result
            # arrived, give back the hold and the lease.
            call.cancel()
            if not finished:
                self.release(plan)


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
