"""The semantic cache: answer a question that means the same as an earlier one.

It looks up the request as it will be sent (after optimization), and stores only answers the
caller asked to be deterministic: a sampled answer (temperature above 0) is one draw among many
and not worth serving to paraphrases. Hits are verified against Claude (every would-be hit, and
the served hits the lookup marks `verify`; see semantic_verification), and the report carries
the tenant's latest measured precision for the task.
"""

from __future__ import annotations

from tollgate.common.flag_definitions import (
    BudgetEnforcementParameters,
    SemanticCacheParameters,
)
from tollgate.gateway import dependencies
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.metrics import count_cache_lookup
from tollgate.gateway.semantic_precision import describe
from tollgate.gateway.steps.base import (
    NO_EFFECT,
    Answer,
    CachedAnswer,
    Draft,
    Effect,
    FlagStep,
    Request,
    StepServices,
    record_cache_savings,
)
from tollgate.gateway.steps.semantic_verification import Pending, SemanticVerifier
from tollgate.v1 import common_pb2, gateway_pb2, semantic_cache_pb2


def _lookup_result(result: str) -> None:
    count_cache_lookup("semantic", result)


class SemanticCacheStep(FlagStep[SemanticCacheParameters]):
    key = "semantic_cache"

    def __init__(
        self,
        request: Request,
        decision: FlagDecision[SemanticCacheParameters],
        services: StepServices,
        budget: FlagDecision[BudgetEnforcementParameters],
    ) -> None:
        super().__init__(request, decision, services)
        self.shadow_hit = False
        # The request as looked up, which is also what a new answer is stored under.
        self._sent: common_pb2.ClaudeRequest | None = None
        # The hit (or would-be hit) to verify once the answer is known.
        self._pending: Pending | None = None
        self._verifier = SemanticVerifier(request, services, budget)

    async def before(self, draft: Draft) -> Effect:
        decision = self._decision
        if not decision.active:
            return NO_EFFECT
        report = self.start_report(decision)
        mode = self._request.completion.cache.mode
        if mode == gateway_pb2.CACHE_MODE_BYPASS:
            report.detail = "bypassed by the request"
            return NO_EFFECT
        if self._request.completion.template_variables:
            # A paraphrase match knows nothing of the variables rendered into the prompt, so an
            # answer built from them is never shared (nor stored: _sent stays None).
            report.detail = "not eligible: answers built from template variables are not shared"
            _lookup_result("ineligible")
            return NO_EFFECT
        if self._request.agent_profile is not None:
            # Likewise an answer fitted to one agent's profile.
            report.detail = "not eligible: answers fitted to an agent profile are not shared"
            _lookup_result("ineligible")
            return NO_EFFECT
        self._sent = draft.request
        if mode == gateway_pb2.CACHE_MODE_REFRESH:
            report.detail = "refresh: asked Claude, the answer is stored"
            return NO_EFFECT
        lookup = semantic_cache_pb2.SemanticLookupRequest(
            context=self._request.context,
            request=draft.request,
            min_similarity=decision.parameters.min_similarity,
        )
        track = self._services.routes.semantic_cache()
        timeout = self._services.settings.semantic_cache_timeout_seconds
        reply = await self.ask(
            report, track, "SemanticLookup", track.stub.SemanticLookup, lookup, timeout
        )
        if reply is None:
            _lookup_result("skipped")
            return NO_EFFECT
        if not reply.eligible:
            report.detail = f"not eligible: {reply.ineligible_reason}"
            _lookup_result("ineligible")
            return NO_EFFECT
        if reply.would_hit:
            # The service's own shadow: its measured precision is under the tenant's floor.
            return self._would_hit(report, reply, reply.shadow_response, "in shadow")
        if not reply.hit:
            report.detail = f"miss{': ' + reply.rejection if reply.rejection else ''}"
            _lookup_result("miss")
            return NO_EFFECT
        if not decision.enforce:
            return self._would_hit(report, reply, reply.response, "flag in shadow mode")
        report.applied = True
        report.detail = f"similar to {reply.matched_question!r} ({reply.similarity:.3f})"
        if reply.verify:
            self._pending = Pending(reply.entry_id, reply.response, shadow=False)
            report.detail += "; to be verified against Claude after the answer (a charged call)"
        _lookup_result("hit")
        return Effect(
            answer=CachedAnswer(reply.response, common_pb2.CACHE_STATUS_SEMANTIC, reply.similarity)
        )

    def _would_hit(
        self,
        report: common_pb2.OptimizationReport,
        reply: semantic_cache_pb2.SemanticLookupResponse,
        cached: common_pb2.ClaudeResponse,
        why: str,
    ) -> Effect:
        """A match that is not served: Claude answers, and the two answers are compared."""
        self.shadow_hit = True
        self._pending = Pending(reply.entry_id, cached, shadow=True)
        report.detail = (
            f"would have answered, {why}: similar to {reply.matched_question!r} "
            f"({reply.similarity:.3f})"
        )
        _lookup_result("shadow_hit")
        return NO_EFFECT

    def savings(self, answer: Answer) -> int:
        record_cache_savings(self.report, answer, common_pb2.CACHE_STATUS_SEMANTIC, self.shadow_hit)
        precision = self._services.precision.latest(
            self._request.context.tenant_id, self._request.context.task
        )
        if self.report is not None and precision is not None:
            self.report.detail += f"; {describe(precision)}"
        return 0

    def _storable(self) -> bool:
        request = self._request.completion.request
        deterministic = request.HasField("temperature") and request.temperature == 0.0
        return deterministic and self._decision.active and self._sent is not None

    def on_answer(self, answer: Answer, account: common_pb2.Account) -> None:
        self._verify(answer)
        if answer.from_cache or not self._storable():
            return
        store = semantic_cache_pb2.SemanticStoreRequest(
            context=self._request.context,
            request=self._sent,
            response=answer.response,
            tags=self._request.cache_tags,
        )
        track = self._services.routes.semantic_cache()
        timeout = self._services.settings.semantic_cache_timeout_seconds * 4
        self._services.background.spawn(
            "semantic store",
            dependencies.call(track, "SemanticStore", track.stub.SemanticStore, store, timeout),
        )

    def _verify(self, answer: Answer) -> None:
        pending = self._pending
        if pending is None or self._sent is None:
            return
        cached = answer.cached
        if cached is None:
            self._verifier.compare(pending, answer.response)
        elif cached.status == common_pb2.CACHE_STATUS_SEMANTIC:
            self._verifier.ask_again(pending, self._sent)
