"""What every optimization step of a Complete request shares: the hooks, the small typed state
passed between steps, and the services a step may use.

A step lives for one request. Its hooks, in the order the pipeline calls them:

- `before(draft)`: look something up or change the request before Claude; returns an `Effect`
  (a shorter request, or an answer from a cache) that the pipeline applies to the draft.
- `savings(answer)`: fill in the step's report (tokens and micro-dollars saved) once the answer
  is known; returns the micro-dollars the step took off the request *before* it reached Claude,
  which the baseline adds back.
- `on_answer(answer, account)`: the step's work after the answer (store it, commit the cost),
  off the critical path.
- `on_failure()`: no answer will come (Claude failed, the budget refused, the caller left before
  Claude was asked): give back what the step holds (a budget hold, a cache fill lease) so
  nothing waits for it.
- `on_broken(answer, account)`: Claude began an answer that broke off (broken_stream.py); by
  default `on_failure()`, while the budget step commits what was produced.

Like the before/after hooks of a plugin chain, each step owns both halves of what it does, so a
skipped step leaves nothing half-done for another to trip on.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field, replace
from typing import Any, Generic, TypeVar

import grpc

from tollgate.common.flag_definitions import FlagParameters
from tollgate.common.pricing import PriceTable
from tollgate.common.template_versions import TemplateVersions
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.metrics import instruments
from tollgate.gateway.public_detail import skipped_detail
from tollgate.gateway.routing import RequestRoutes, Track
from tollgate.gateway.savings import SavingsCalculator
from tollgate.gateway.semantic_precision import PrecisionBoard
from tollgate.gateway.sessions import session_tag
from tollgate.gateway.settings import Settings
from tollgate.v1 import common_pb2, gateway_pb2

log = logging.getLogger("tollgate.gateway.steps")

# What an optimization service may answer that the request goes on without (fail open).
SKIPPABLE: tuple[type[Exception], ...] = (DependencyDown, grpc.aio.AioRpcError)


@dataclass(frozen=True)
class CachedAnswer:
    """An answer a cache gave instead of Claude."""

    response: common_pb2.ClaudeResponse
    status: common_pb2.CacheStatus
    similarity: float = 0.0


@dataclass(frozen=True)
class Effect:
    """What a step's `before` changes: nothing, the request sent on, or the answer itself."""

    request: common_pb2.ClaudeRequest | None = None
    answer: CachedAnswer | None = None


NO_EFFECT = Effect()


@dataclass(frozen=True)
class Draft:
    """The request as the steps have shaped it so far."""

    # What goes to Claude: the caller's request, or the optimizer's shorter one.
    request: common_pb2.ClaudeRequest
    # Set when a cache answered (enforce mode); then nothing goes to Claude.
    cached: CachedAnswer | None = None

    def apply(self, effect: Effect) -> Draft:
        if effect.answer is not None and self.cached is None:
            return replace(self, cached=effect.answer)
        if effect.request is not None:
            return replace(self, request=effect.request)
        return self


@dataclass(frozen=True)
class Answer:
    """The answer the caller gets, wherever it came from, with what it cost."""

    response: common_pb2.ClaudeResponse
    cost: common_pb2.Cost
    # What the same usage would have cost with no prompt-cache read or write.
    uncached_micros: int
    cached: CachedAnswer | None = None
    cache_breakpoints: int = 0
    fallback_reason: str = ""
    # The orchestrator's `template_version`: the template rendered into the prompt, if any.
    template_version: str = ""

    @property
    def from_cache(self) -> bool:
        return self.cached is not None


@dataclass(frozen=True)
class Request:
    """The request's fixed facts, the same for every step."""

    context: common_pb2.RequestContext
    completion: gateway_pb2.Completion
    # The stored profile of completion.agent_id (None: no agent named), rendered into the
    # system prompt by the orchestrator: it shapes the answer like a template variable does.
    agent_profile: common_pb2.AgentProfile | None = None

    @property
    def cache_tags(self) -> list[str]:
        """The caller's tags, and the session's: deleting a session drops its cached answers."""
        tags = list(self.completion.tags)
        if self.completion.session_id:
            tags.append(session_tag(self.completion.session_id))
        return tags


@dataclass(frozen=True)
class StepServices:
    """What steps use: settings, routes of this request, prices, the ledger, background work,
    the orchestrators' template versions, and the semantic cache's latest measured precision."""

    settings: Settings
    routes: RequestRoutes
    prices: PriceTable
    savings: SavingsCalculator
    budget: BudgetGuard
    background: BackgroundWork
    templates: TemplateVersions
    precision: PrecisionBoard = field(default_factory=PrecisionBoard)


def mode_of(decision: FlagDecision[Any]) -> common_pb2.FlagMode:
    return common_pb2.FLAG_MODE_SHADOW if decision.shadow else common_pb2.FLAG_MODE_ENFORCE


class Step:
    """The hooks, each doing nothing: a step overrides those it needs."""

    key: str = ""
    # None until the step has something to say; only steps that ran report.
    report: common_pb2.OptimizationReport | None = None

    async def before(self, draft: Draft) -> Effect:
        return NO_EFFECT

    def savings(self, answer: Answer) -> int:
        return 0

    def on_answer(self, answer: Answer, account: common_pb2.Account) -> None:
        return None

    def on_failure(self) -> None:
        return None

    def on_broken(self, answer: Answer, account: common_pb2.Account) -> None:
        """Claude began an answer that then broke off; `answer` is what it produced. No caller
        gets it, so by default the step gives back what it holds, as on a failure."""
        self.on_failure()

    def start_report(self, decision: FlagDecision[Any]) -> common_pb2.OptimizationReport:
        self.report = common_pb2.OptimizationReport(optimization=self.key, mode=mode_of(decision))
        return self.report

    def skipped(self, report: common_pb2.OptimizationReport, backend: str, exc: Exception) -> None:
        """The step's service failed or refused: go on without it (fail open), and say so."""
        report.detail = skipped_detail(backend, exc)
        instruments().fail_open.add(1, {"backend": backend, "step": self.key})
        log.warning("%s skipped: %s", self.key, exc)


P = TypeVar("P", bound=FlagParameters)
Reply = TypeVar("Reply")


class FlagStep(Step, Generic[P]):
    """A step switched by one flag, for one request."""

    def __init__(self, request: Request, decision: FlagDecision[P], services: StepServices) -> None:
        self._request = request
        self._decision = decision
        self._services = services

    async def ask(
        self,
        report: common_pb2.OptimizationReport,
        track: Track[Any],
        method: str,
        rpc: Callable[..., Awaitable[Reply]],
        request: Any,
        timeout: float,
    ) -> Reply | None:
        """Call the step's service; None when it failed or refused (fail open, reported)."""
        try:
            return await dependencies.call(track, method, rpc, request, timeout)
        except SKIPPABLE as exc:
            self.skipped(report, track.backend, exc)
            return None


def record_cache_savings(
    report: common_pb2.OptimizationReport | None,
    answer: Answer,
    status: common_pb2.CacheStatus,
    shadow_hit: bool,
) -> None:
    """A cache's saving: all the answer would have cost when this cache gave it; in shadow mode,
    what Claude's answer cost (what the would-be hit would have saved)."""
    if report is None:
        return
    cached = answer.cached
    if cached is not None and cached.status == status:
        usage = answer.response.usage
        report.tokens_saved = usage.input_tokens + usage.output_tokens
        report.micros_saved = answer.uncached_micros
    elif shadow_hit and not answer.from_cache:
        report.micros_saved = answer.cost.total_micros
