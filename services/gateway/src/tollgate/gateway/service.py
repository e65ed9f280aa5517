"""The gateway's gRPC servicer: authenticate, validate, then hand over to the pipeline (Complete),
lead scoring, or the admin calls."""

from __future__ import annotations

import contextlib
import functools
import logging
from collections.abc import AsyncGenerator, AsyncIterator

import grpc

from tollgate.common import telemetry
from tollgate.common.auth import ApiKey
from tollgate.common.errors import failed_precondition, unavailable
from tollgate.common.ids import new_request_id, new_trace_id
from tollgate.common.interceptors import annotate
from tollgate.common.pricing import PriceTable
from tollgate.common.server import GrpcService, Hook, Registration
from tollgate.common.template_versions import TemplateVersions
from tollgate.gateway.admin import AdminCalls
from tollgate.gateway.agent_profiles import AgentProfiles
from tollgate.gateway.auth_gate import Authenticates, AuthenticationGate
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.batches import BatchCalls
from tollgate.gateway.budget import BudgetGuard
from tollgate.gateway.classification import CHUNK_TOO_BIG_HINT, Classification
from tollgate.gateway.configmap_watch import ConfigMapWatch
from tollgate.gateway.decoding import tolerant_adder
from tollgate.gateway.flags import FlagsSource
from tollgate.gateway.http.door import HttpDoor
from tollgate.gateway.key_admin import KeyAdmin
from tollgate.gateway.key_directory import FetchChanges, KeyDirectory
from tollgate.gateway.key_file import KeyFile
from tollgate.gateway.key_policy import check_completion, check_lead_reasoning, check_task
from tollgate.gateway.leads import LeadScoring
from tollgate.gateway.pipeline import CompletionPipeline
from tollgate.gateway.rate_limit import TOO_BIG_HINT, RateLimiter
from tollgate.gateway.redaction import log_exchange
from tollgate.gateway.routing import BackendRouter
from tollgate.gateway.session_calls import SessionCalls
from tollgate.gateway.sessions import SessionStore
from tollgate.gateway.settings import Settings
from tollgate.gateway.validation import RequestValidator
from tollgate.v1 import budget_ledger_pb2, common_pb2, gateway_pb2, gateway_pb2_grpc

log = logging.getLogger("tollgate.gateway")


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self,
        settings: Settings,
        keys: Authenticates,
        validator: RequestValidator,
        pipeline: CompletionPipeline,
        leads: LeadScoring,
        admin: AdminCalls,
        classification: Classification,
        rate_limiter: RateLimiter | None = None,
        key_admin: KeyAdmin | None = None,
        profiles: AgentProfiles | None = None,
        sessions: SessionCalls | None = None,
    ) -> None:
        self._settings = settings
        self._rate_limiter = rate_limiter
        self._keys = keys
        self._validator = validator
        self.pipeline = pipeline
        self._leads = leads
        self._admin = admin
        self._classification = classification
        self.key_admin = key_admin
        self._profiles = profiles
        self._sessions = sessions
        # Set when the HTTP front door is on (build_service).
        self.http_door: HttpDoor | None = None

    def _authenticate(self, context: grpc.aio.ServicerContext) -> ApiKey:
        return self.authenticate(_authorization(context))

    def authenticate(self, authorization: str | None) -> ApiKey:
        """The key of an `authorization` value (`Bearer <key>`), from gRPC or the HTTP door."""
        key = self._keys.authenticate(authorization)
        annotate(tenant=key.tenant, api_key_id=key.id)
        return key

    async def accept(
        self, key: ApiKey, completion: gateway_pb2.Completion
    ) -> common_pb2.RequestContext:
        """Validate and admit a completion (both doors), and the context it runs under."""
        estimate = self._validator.check(completion)
        check_completion(key, completion.request.model, completion.task)
        # The most the request can use: its input (estimated) plus every token it may write.
        await self._admit(key, estimate + completion.request.max_tokens)
        return self._request_context(key, completion)

    async def _admit(
        self, key: ApiKey, tokens: int, *, requests: int = 1, too_big_hint: str = TOO_BIG_HINT
    ) -> None:
        if self._rate_limiter is not None:
            await self._rate_limiter.admit(
                key.tenant,
                key.id,
                tokens,
                key_limits=key.limits,
                requests=requests,
                too_big_hint=too_big_hint,
            )

    def _request_context(
        self, key: ApiKey, completion: gateway_pb2.Completion | None = None
    ) -> common_pb2.RequestContext:
        request_id = (completion.request_id if completion else "") or new_request_id()
        annotate(request_id=request_id)
        return common_pb2.RequestContext(
            tenant_id=key.tenant,
            api_key_id=key.id,
            contact_id=completion.contact_id if completion else "",
            request_id=request_id,
            task=completion.task if completion else common_pb2.TASK_TYPE_UNSPECIFIED,
            conversation_id=completion.conversation_id if completion else "",
            trace_id=telemetry.current_trace_id() or new_trace_id(),
            # Carried to the orchestrator, which keeps its fallbacks inside them.
            allowed_models=sorted(key.limits.allowed_models),
        )

    def _timeout(self) -> float:
        """How long Claude may take for this request: the gateway's limit, not the caller's
        deadline. Claude bills what it writes, and the gateway reads the orchestrator to the end
        in a task of its own (tollgate.gateway.relay) to charge it; bounding that read by the
        caller's deadline would let a caller who sets a deadline just short of the answer take
        the stream it received for free."""
        return self._settings.orchestrator_timeout_seconds

    async def Complete(
        self, request: gateway_pb2.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.CompleteResponse:
        key = self._authenticate(context)
        request_context = await self.accept(key, request.completion)
        reply = await self.pipeline.complete(request_context, request.completion, self._timeout())
        if self._settings.log_prompts:
            log_exchange(request.completion.request, reply.response)
        return reply

    async def StreamComplete(
        self, request: gateway_pb2.StreamCompleteRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.StreamCompleteResponse]:
        key = self._authenticate(context)
        request_context = await self.accept(key, request.completion)
        if self._settings.log_prompts:
            log_exchange(request.completion.request, None)
        async for item in self.pipeline.stream(
            request_context, request.completion, self._timeout()
        ):
            yield item

    def _check_leads(self, key: ApiKey, with_reasoning: bool) -> None:
        """A key limited to some tasks or models is held to them when it scores leads."""
        check_task(key, common_pb2.TASK_TYPE_LEAD_ANALYSIS)
        if with_reasoning:
            check_lead_reasoning(key, self._leads.reasoning_models)

    async def ScoreLead(
        self, request: gateway_pb2.ScoreLeadRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ScoreLeadResponse:
        key = self._authenticate(context)
        self._check_leads(key, request.with_reasoning)
        await self._admit(key, 0)
        return await self._leads.score_one(self._request_context(key), request, self._timeout())

    async def ScoreLeads(
        self, request: gateway_pb2.ScoreLeadsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.ScoreLeadsResponse]:
        key = self._authenticate(context)
        self._check_leads(key, request.with_reasoning)
        await self._admit(key, 0)
        async for item in self._leads.score_many(
            self._request_context(key), request, self._timeout()
        ):
            yield item

    async def classify(
        self, key: ApiKey, request: gateway_pb2.ClassifyRequest
    ) -> AsyncGenerator[gateway_pb2.ClassifyResponse, None]:
        """A classification run of an authenticated key (both doors)."""
        # A key limited to some models or tasks is held to them here too, not only in Complete.
        check_completion(key, request.instructions.model, common_pb2.TASK_TYPE_CLASSIFICATION)
        await self._admit(key, 0)
        run_context = self._request_context(key)
        if request.request_id:
            run_context.request_id = request.request_id
        run_context.task = common_pb2.TASK_TYPE_CLASSIFICATION

        # Each chunk's tokens, on top of the run counted as one request above.
        admit_chunk = functools.partial(
            self._admit, key, requests=0, too_big_hint=CHUNK_TOO_BIG_HINT
        )
        run = self._classification.run(run_context, request, admit_chunk)
        # Closed at once when the caller leaves (not whenever the generator is collected), so
        # the run stops starting chunks then.
        async with contextlib.aclosing(run) as items:
            async for item in items:
                yield item

    async def Classify(
        self, request: gateway_pb2.ClassifyRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.ClassifyResponse]:
        results = self.classify(self._authenticate(context), request)
        async with contextlib.aclosing(results):
            async for item in results:
                yield item

    async def GetUsageReport(
        self, request: gateway_pb2.GetUsageReportRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetUsageReportResponse:
        return await self._admin.usage_report(self._authenticate(context), request)

    async def GetBudgets(
        self, request: gateway_pb2.GetBudgetsRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetBudgetsResponse:
        return await self._admin.budgets(self._authenticate(context), request)

    async def SetBudget(
        self, request: gateway_pb2.SetBudgetRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.SetBudgetResponse:
        return await self._admin.set_budget(self._authenticate(context), request)

    async def CreateBudgetOverride(
        self, request: gateway_pb2.CreateBudgetOverrideRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.CreateBudgetOverrideResponse:
        return await self._admin.create_override(self._authenticate(context), request)

    async def WatchBudgetAlerts(
        self, request: gateway_pb2.WatchBudgetAlertsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.WatchBudgetAlertsResponse]:
        async for item in self._admin.watch_alerts(self._authenticate(context), request):
            yield item

    async def GetEffectiveConfig(
        self, request: gateway_pb2.GetEffectiveConfigRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetEffectiveConfigResponse:
        return self._admin.effective_config(self._authenticate(context), request)

    async def InvalidateCache(
        self, request: gateway_pb2.InvalidateCacheRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.InvalidateCacheResponse:
        return await self._admin.invalidate_cache(self._authenticate(context), request)

    def _agent_profiles(self) -> AgentProfiles:
        if self._profiles is None:
            raise unavailable("This gateway has no agent profile store configured.")
        return self._profiles

    async def PutAgentProfile(
        self, request: gateway_pb2.PutAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.PutAgentProfileResponse:
        return await self._agent_profiles().put(self._authenticate(context), request)

    async def GetAgentProfile(
        self, request: gateway_pb2.GetAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetAgentProfileResponse:
        return await self._agent_profiles().get(self._authenticate(context), request)

    async def ListAgentProfiles(
        self, request: gateway_pb2.ListAgentProfilesRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ListAgentProfilesResponse:
        return await self._agent_profiles().list(self._authenticate(context), request)

    async def DeleteAgentProfile(
        self, request: gateway_pb2.DeleteAgentProfileRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.DeleteAgentProfileResponse:
        return await self._agent_profiles().delete(self._authenticate(context), request)

    def _session_calls(self) -> SessionCalls:
        if self._sessions is None:
            raise unavailable("This gateway has no session store configured.")
        return self._sessions

    async def GetSession(
        self, request: gateway_pb2.GetSessionRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.GetSessionResponse:
        return await self._session_calls().get(self._authenticate(context), request)

    async def ForkSession(
        self, request: gateway_pb2.ForkSessionRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ForkSessionResponse:
        return await self._session_calls().fork(self._authenticate(context), request)

    async def DeleteSession(
        self, request: gateway_pb2.DeleteSessionRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.DeleteSessionResponse:
        return await self._session_calls().delete(self._authenticate(context), request)

    def _keys_admin(self) -> KeyAdmin:
        if self.key_admin is None:
            raise failed_precondition(
                "Managed keys are off on this gateway (TOLLGATE_GATEWAY_MANAGED_KEYS_ENABLED)."
            )
        return self.key_admin

    async def CreateApiKey(
        self, request: gateway_pb2.CreateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.CreateApiKeyResponse:
        return await self._keys_admin().create(self._authenticate(context), request)

    async def ListApiKeys(
        self, request: gateway_pb2.ListApiKeysRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.ListApiKeysResponse:
        return await self._keys_admin().list(self._authenticate(context), request)

    async def RevokeApiKey(
        self, request: gateway_pb2.RevokeApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.RevokeApiKeyResponse:
        return await self._keys_admin().revoke(self._authenticate(context), request)

    async def RotateApiKey(
        self, request: gateway_pb2.RotateApiKeyRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.RotateApiKeyResponse:
        return await self._keys_admin().rotate(self._authenticate(context), request)


def _ledger_changes(settings: Settings, router: BackendRouter, flags: FlagsSource) -> FetchChanges:
    """How the key directory reads the ledger's key changes: straight to the stub (not through
    the budget path's breaker, so an idle gateway's polling never trips it)."""

    async def fetch(since: int) -> budget_ledger_pb2.ListApiKeyChangesResponse:
        track = router.route("budget_ledger", flags.config, "", "")
        request = budget_ledger_pb2.ListApiKeyChangesRequest(since_revision=since)
        reply: budget_ledger_pb2.ListApiKeyChangesResponse = await track.stub.ListApiKeyChanges(
            request, timeout=settings.budget_ledger_timeout_seconds
        )
        return reply

    return fetch


async def build_service(settings: Settings) -> GrpcService:
    router = BackendRouter.connect(settings)
    prices = PriceTable.load(settings.prices_file or None)
    flags = FlagsSource(
        settings.flags_file, settings.flags_poll_seconds, settings.flags_overrides_file
    )
    keys = KeyDirectory(
        KeyFile(settings.api_keys_file, settings.flags_poll_seconds),
        _ledger_changes(settings, router, flags) if settings.managed_keys_enabled else None,
        settings.managed_keys_refresh_seconds,
    )
    background = BackgroundWork()
    profiles = AgentProfiles(settings, flags, router)
    sessions = (
        SessionStore(
            settings.sessions_redis_url,
            settings.sessions_key_prefix,
            settings.session_ttl_seconds,
            settings.session_max_bytes,
            settings.session_lease_seconds,
            settings.session_store_timeout_seconds,
        )
        if settings.sessions_redis_url
        else None
    )
    rate_limiter = RateLimiter(
        settings.rate_limit_redis_url,
        settings.rate_limits,
        settings.rate_limit_tenant_overrides,
        settings.rate_limit_key_prefix,
        settings.rate_limit_timeout_seconds,
    )

    async def admit_history(tenant: str, key_id: str, tokens: int) -> None:
        # The turn itself was counted at the door; its stored history adds tokens only, under
        # the same limits as the turn: a managed key's own where they are stricter.
        own = keys.limits_of(tenant, key_id)
        await rate_limiter.admit(tenant, key_id, tokens, key_limits=own, requests=0)

    # Holds and commits on the ledger, shared by every path that spends: it keeps no state of
    # its own beyond the ledger's deadline and the background work its commits run in.
    budget = BudgetGuard(settings, background)
    templates = TemplateVersions(
        lambda: router.backends["orchestrator"].tracks(),
        settings.template_versions_poll_seconds,
    )
    pipeline = CompletionPipeline(
        settings,
        flags,
        router,
        prices,
        background,
        budget,
        templates,
        profiles,
        sessions,
        admit_history,
    )
    admin = AdminCalls(settings, flags, router)
    servicer = GatewayServicer(
        settings,
        keys,
        RequestValidator(settings, prices),
        pipeline,
        LeadScoring(settings, flags, router, prices, budget, background),
        admin,
        Classification(settings, flags, router, prices, budget, background, templates),
        rate_limiter,
        KeyAdmin(admin.ledger_call, keys) if settings.managed_keys_enabled else None,
        profiles=profiles,
        sessions=SessionCalls(sessions, settings, flags, router),
    )
    on_start: list[Hook] = [flags.start, router.start, keys.start, templates.start]
    # Stop hooks run last to first. The background work (commits, abandoned streams read to
    # their end, cache stores) drains before the router closes the backends' channels it
    # needs: closed first, a commit still on its way would be lost and its hold released. An
    # abandoned stream may run as long as a call, so it gets the calls' grace, not less.
    on_stop: list[Hook] = [
        templates.stop,
        keys.stop,
        flags.stop,
        rate_limiter.close,
        router.close,
        functools.partial(background.drain, settings.shutdown_grace_seconds),
    ]
    if sessions is not None:
        on_stop.insert(0, sessions.close)
    if settings.http_enabled:
        batches = BatchCalls(settings, flags, router, prices, budget)
        servicer.http_door = HttpDoor(settings, servicer, prices, batches)
        on_start.append(servicer.http_door.start)
        # Stop hooks run last to first: no new HTTP request starts while the pipeline drains.
        on_stop.append(servicer.http_door.stop)
    for origin, name, key in (
        ("configmap", settings.flags_configmap, settings.flags_configmap_key),
        (
            "overrides-configmap",
            settings.flags_overrides_configmap,
            settings.flags_overrides_configmap_key,
        ),
    ):
        if not name:
            continue
        watch = ConfigMapWatch(settings.namespace or "default", name, key, flags.apply_text, origin)
        on_start.append(watch.start)
        on_stop.insert(0, watch.stop)
    descriptor = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"]
    # Completions and lead batches are held to max_request_bytes by the validator, which names
    # the field; here they get gRPC's own limit, and every other method a small one.
    large = settings.max_message_bytes
    # A classification run has no validator pass over its bytes: it is held to
    # max_request_bytes here (the HTTP door's own limit), with a sentence naming the limit.
    limits = {
        "Complete": large,
        "StreamComplete": large,
        "ScoreLeads": large,
        "Classify": settings.max_request_bytes,
    }
    adder = tolerant_adder(descriptor, limits, settings.max_small_request_bytes)
    registration = Registration(descriptor.full_name, adder, servicer)
    return GrpcService(
        "gateway",
        [registration],
        on_start=on_start,
        on_stop=on_stop,
        interceptors=[AuthenticationGate(keys)],
    )
