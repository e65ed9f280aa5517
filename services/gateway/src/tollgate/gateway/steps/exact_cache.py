"""The exact cache: answer a request identical to an earlier one, and store new answers.

On a miss in enforce mode the lookup takes the key's fill lease, so identical requests arriving
meanwhile wait for this one's answer instead of each calling Claude (single flight). The lease is
given back with the stored answer, or released when no answer comes.

The calls go through the track's stub, which carries them in ExactBatch RPCs together with other
requests' (gateway/cache_coalescing.py): each still ends as its unary call would, and a lookup
that waits for another request's fill waits in a unary ExactLookup.
"""

from __future__ import annotations

from tollgate.common.durations import duration
from tollgate.common.flag_definitions import ExactCacheParameters
from tollgate.common.tasks import task_name
from tollgate.common.template_versions import TemplateVersions
from tollgate.gateway import dependencies
from tollgate.gateway.agent_fingerprint import profile_fingerprint
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.metrics import count_cache_lookup
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
from tollgate.v1 import cache_pb2, common_pb2, gateway_pb2


def _lookup_result(result: str) -> None:
    count_cache_lookup("exact", result)


def _profile_version(request: Request) -> str:
    profile = request.agent_profile
    return "" if profile is None else profile_fingerprint(profile)


class ExactCacheStep(FlagStep[ExactCacheParameters]):
    key = "exact_cache"

    def __init__(
        self,
        request: Request,
        decision: FlagDecision[ExactCacheParameters],
        services: StepServices,
    ) -> None:
        super().__init__(request, decision, services)
        # Set on a miss: where to store the answer, and the lease that lets this request fill it.
        self._key = ""
        self._lease = ""
        # The task template the key names (a request with template variables), else "".
        self._template = ""
        self.shadow_hit = False

    async def before(self, draft: Draft) -> Effect:
        decision = self._decision
        if not decision.active:
            return NO_EFFECT
        report = self.start_report(decision)
        preference = self._request.completion.cache
        # The tenant's policy may cache sampled answers for every request that does not opt in.
        by_policy = not preference.cache_sampled and decision.parameters.caches_sampled(
            self._request.context.tenant_id
        )
        policy_note = "; sampled answers cached by the tenant's policy" if by_policy else ""
        if preference.mode == gateway_pb2.CACHE_MODE_BYPASS:
            report.detail = "bypassed by the request"
            _lookup_result("ineligible")
            return NO_EFFECT
        if self._request.completion.template_variables:
            self._template = await self._services.templates.version(
                self._services.routes.upcoming_orchestrator(),
                task_name(self._request.context.task),
            )
            if not self._template:
                # An answer is only looked up and stored under the template that makes it.
                report.detail = "not cacheable: the version of the task's template is not known yet"
                _lookup_result("ineligible")
                return NO_EFFECT
        # A refresh looks up only to learn the key; its answer overwrites whatever is stored
        # (a store without a lease always writes), so it neither takes nor waits for a lease.
        refresh = preference.mode == gateway_pb2.CACHE_MODE_REFRESH
        settings = self._services.settings
        fill = decision.enforce and not refresh
        wait = settings.exact_cache_wait_for_fill_seconds if fill else 0.0
        lookup = cache_pb2.ExactLookupRequest(
            context=self._request.context,
            request=self._request.completion.request,
            acquire_fill_lease=fill,
            wait_for_fill=duration(wait),
            cache_sampled=preference.cache_sampled or by_policy,
            # Rendered into the prompt: an answer built from one contact's variables is keyed by
            # them. The shipped templates read no contact data beyond their variables, so no
            # contact scope is sent.
            template_variables=self._request.completion.template_variables,
            # The task's template and the agent profile are rendered into the prompt: answers
            # made with another template, or for an agent whose profile renders differently,
            # never share a key.
            template_version="+".join(
                filter(None, (self._template, _profile_version(self._request)))
            ),
        )
        track = self._services.routes.cache()
        timeout = settings.cache_timeout_seconds + wait
        reply = await self.ask(
            report, track, "ExactLookup", track.stub.ExactLookup, lookup, timeout
        )
        if reply is None:
            _lookup_result("skipped")
            return NO_EFFECT
        if not reply.cacheable:
            report.detail = f"not cacheable: {reply.reason}"
            _lookup_result("ineligible")
            return NO_EFFECT
        if refresh and decision.enforce:
            self._key = reply.key
            report.detail = "refresh: asked Claude, the answer replaces the stored one"
            _lookup_result("miss")
            return NO_EFFECT
        if reply.hit:
            if decision.enforce:
                report.applied = True
                report.detail = policy_note.removeprefix("; ")
                _lookup_result("hit")
                return Effect(answer=CachedAnswer(reply.response, common_pb2.CACHE_STATUS_EXACT))
            self.shadow_hit = True
            report.detail = "would have answered from the exact cache"
            _lookup_result("shadow_hit")
            return NO_EFFECT
        self._key = reply.key
        self._lease = reply.fill_lease
        report.detail = "miss" + policy_note
        _lookup_result("miss")
        return NO_EFFECT

    def savings(self, answer: Answer) -> int:
        record_cache_savings(self.report, answer, common_pb2.CACHE_STATUS_EXACT, self.shadow_hit)
        return 0

    def on_answer(self, answer: Answer, account: common_pb2.Account) -> None:
        """Store the answer under the exact key (giving the fill lease back with it). An answer
        from the semantic cache is stored too: identical requests waiting on this one's lease
        then hit at once instead of waiting for a lease no call to Claude will fill."""
        if not self._key:
            return
        if self._template and not TemplateVersions.matches(self._template, answer.template_version):
            # Made with another template than the key names (a deployment's pods mid-upgrade):
            # not stored, and the lease is given back for a request that will store its own.
            self.on_failure()
            return
        store = cache_pb2.ExactStoreRequest(
            context=self._request.context,
            key=self._key,
            response=answer.response,
            tags=self._request.cache_tags,
            fill_lease=self._lease,
        )
        asked = self._request.completion.cache.ttl
        if asked.seconds or asked.nanos:
            store.ttl.CopyFrom(asked)
        elif self._decision.parameters.ttl_seconds:
            store.ttl.CopyFrom(duration(self._decision.parameters.ttl_seconds))
        track = self._services.routes.cache()
        timeout = self._services.settings.cache_timeout_seconds * 5
        self._services.background.spawn(
            "exact store",
            dependencies.call(track, "ExactStore", track.stub.ExactStore, store, timeout),
        )

    def on_failure(self) -> None:
        if not self._lease:
            return
        release = cache_pb2.ExactReleaseRequest(
            context=self._request.context, key=self._key, fill_lease=self._lease
        )
        track = self._services.routes.cache()
        timeout = self._services.settings.cache_timeout_seconds
        self._services.background.spawn(
            "cache release",
            dependencies.call(track, "ExactRelease", track.stub.ExactRelease, release, timeout),
        )
