"""The lead scoring gRPC service: ComputeLeadScore and the streamed ComputeLeadScores."""

from __future__ import annotations

import asyncio
import time
from collections.abc import AsyncIterator

import grpc
from google.protobuf import timestamp_pb2

from tollgate.common.errors import invalid_argument
from tollgate.common.interceptors import annotate
from tollgate.common.server import GrpcService, Registration
from tollgate.common.tls import channel_credentials
from tollgate.lead_scoring.lead_input import seconds_of
from tollgate.lead_scoring.model import load_model
from tollgate.lead_scoring.pii import PiiFilter
from tollgate.lead_scoring.reasoning import OrchestratorReasoner
from tollgate.lead_scoring.scorer import LeadScorer
from tollgate.lead_scoring.settings import Settings
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc


def _check_context(context: common_pb2.RequestContext) -> None:
    if not context.tenant_id.strip():
        raise invalid_argument("context.tenant_id is required.", "context.tenant_id")


def _deadline(context: grpc.aio.ServicerContext) -> float | None:
    """The caller's deadline on the event loop's clock, or None when it set none."""
    remaining = context.time_remaining()
    return None if remaining is None else asyncio.get_running_loop().time() + remaining


def _as_of(has_as_of: bool, stamp: timestamp_pb2.Timestamp) -> float:
    return seconds_of(stamp, "as_of") if has_as_of else time.time()


class LeadScoringServicer(lead_scoring_pb2_grpc.LeadScoringServiceServicer):
    def __init__(self, scorer: LeadScorer, settings: Settings) -> None:
        self._scorer = scorer
        self._settings = settings

    async def ComputeLeadScore(
        self, request: lead_scoring_pb2.ComputeLeadScoreRequest, context: grpc.aio.ServicerContext
    ) -> lead_scoring_pb2.ComputeLeadScoreResponse:
        _check_context(request.context)
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        if not request.HasField("lead"):
            raise invalid_argument("lead is required.", "lead")
        as_of = _as_of(request.HasField("as_of"), request.as_of)
        score = await self._scorer.score(
            request.context,
            request.lead,
            request.with_reasoning,
            as_of,
            deadline=_deadline(context),
        )
        return lead_scoring_pb2.ComputeLeadScoreResponse(score=score)

    async def ComputeLeadScores(
        self, request: lead_scoring_pb2.ComputeLeadScoresRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[lead_scoring_pb2.ComputeLeadScoresResponse]:
        _check_context(request.context)
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        count = len(request.leads)
        if count == 0:
            raise invalid_argument("leads is empty: send at least one lead.", "leads")
        if count > self._settings.batch_max_leads:
            raise invalid_argument(
                f"{count} leads in one request; at most {self._settings.batch_max_leads} "
                "are allowed. Split the batch.",
                "leads",
            )
        as_of = _as_of(request.HasField("as_of"), request.as_of)
        concurrency = min(
            request.max_concurrency or self._settings.batch_default_concurrency,
            self._settings.batch_max_concurrency,
        )
        allowance = request.reasoning_allowance if request.HasField("reasoning_allowance") else None
        results = self._scorer.score_many(
            request.context,
            request.leads,
            request.with_reasoning,
            as_of,
            concurrency,
            deadline=_deadline(context),
            reasoning_leads=None if allowance is None else allowance.leads,
            skip_reason=allowance.reason.strip()[:500] if allowance is not None else "",
        )
        async for index, outcome in results:
            if isinstance(outcome, str):
                yield lead_scoring_pb2.ComputeLeadScoresResponse(index=index, error=outcome)
            else:
                yield lead_scoring_pb2.ComputeLeadScoresResponse(index=index, score=outcome)


async def build_service(settings: Settings) -> GrpcService:
    # A bad model file stops the service at start, not at the first request.
    model = load_model(settings.model_file or None)
    reasoner = OrchestratorReasoner(
        settings.orchestrator_addr,
        timeout_seconds=settings.reasoning_timeout_seconds,
        max_tokens=settings.reasoning_max_tokens,
        cache_entries=settings.reasoning_cache_entries,
        company=settings.company_name,
        credentials=channel_credentials(settings),
        pii=PiiFilter.from_lists(settings.pii_allow_fields, settings.pii_fields),
        cache_ttl_seconds=settings.reasoning_cache_ttl_seconds,
        template_versions_poll_seconds=settings.template_versions_poll_seconds,
    )
    servicer = LeadScoringServicer(LeadScorer(model, settings, reasoner), settings)
    full_name = lead_scoring_pb2.DESCRIPTOR.services_by_name["LeadScoringService"].full_name
    registration = Registration(
        full_name, lead_scoring_pb2_grpc.add_LeadScoringServiceServicer_to_server, servicer
    )
    return GrpcService(
        "lead-scoring", [registration], on_start=[reasoner.start], on_stop=[reasoner.close]
    )
