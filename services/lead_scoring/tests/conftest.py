"""Fixtures of the lead scoring tests: leads built in a line, a fake orchestrator served over
real gRPC, and the lead scoring service served in-process against it."""

from __future__ import annotations

import asyncio
import json
from collections.abc import AsyncIterator, Callable
from dataclasses import dataclass, field

import grpc
import pytest

from tollgate.common.errors import unavailable
from tollgate.common.server import GrpcService, Registration
from tollgate.common.testing import serving
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings
from tollgate.v1 import (
    common_pb2,
    lead_scoring_pb2,
    lead_scoring_pb2_grpc,
    orchestrator_pb2,
    orchestrator_pb2_grpc,
)

AS_OF = 1_790_000_000  # a fixed "now" (epoch seconds) so every age is exact
DAY = 86_400
TENANT = "acme-realty"

CANNED_ANALYSIS = {
    "narrative": "Pre-approved buyer relocating for work; replies fast and toured twice.",
    "insights": ["Replies within the hour", "Asked twice about school districts"],
    "next_best_action": "Book showings in North Denver for Saturday.",
    "score": 82,
}


def make_lead(
    lead_id: str = "lead-1",
    answers: dict[str, str] | None = None,
    events: list[tuple[int, float]] | None = None,
    created_days_ago: float | None = None,
    source: str = "website",
    conversation: list[tuple[int, str]] | None = None,
) -> lead_scoring_pb2.Lead:
    """events: (EngagementType, days before AS_OF)."""
    lead = lead_scoring_pb2.Lead(
        profile=lead_scoring_pb2.LeadProfile(lead_id=lead_id, name="Dana Reyes", source=source),
        answers=lead_scoring_pb2.QualificationAnswers(**(answers or {})),
    )
    if created_days_ago is not None:
        lead.profile.created_at.seconds = int(AS_OF - created_days_ago * DAY)
    for kind, days_ago in events or []:
        event = lead.events.add(type=kind)  # type: ignore[arg-type]
        event.at.seconds = int(AS_OF - days_ago * DAY)
    for role, text in conversation or []:
        lead.conversation.add(
            role=role,  # type: ignore[arg-type]
            content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
        )
    return lead


FULL_ANSWERS = {
    "budget": "$450k",
    "timeline": "within 2 months",
    "location": "North Denver",
    "pre_approval": "yes, pre-approved with Chase",
    "motivation": "relocating for a new job",
    "property_type": "single-family house",
    "contact_preference": "text in the evening",
}


@pytest.fixture
def lead_factory() -> Callable[..., lead_scoring_pb2.Lead]:
    return make_lead


@pytest.fixture
def context() -> common_pb2.RequestContext:
    return common_pb2.RequestContext(tenant_id=TENANT, request_id="req-1")


@dataclass
class FakeOrchestrator(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    """Answers Generate with `answer_text`, or fails when `fail` is set; records every request.
    Its results and ListTemplates name `template` as its lead_analysis template ("" names none;
    `lists_templates` False answers ListTemplates UNIMPLEMENTED, as an older build does)."""

    answer_text: str = json.dumps(CANNED_ANALYSIS)
    fail: bool = False
    # Seconds each answer takes, to hold calls in flight.
    delay: float = 0.0
    requests: list[orchestrator_pb2.GenerateRequest] = field(default_factory=list)
    in_flight: int = 0
    max_in_flight: int = 0
    template: str = "lead_analysis@1"
    lists_templates: bool = True
    template_listings: int = 0
    # Seconds ListTemplates takes; the time each Generate had left when it arrived.
    listing_delay: float = 0.0
    time_left_on_arrival: list[float] = field(default_factory=list)

    async def ListTemplates(
        self, request: orchestrator_pb2.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.ListTemplatesResponse:
        self.template_listings += 1
        await asyncio.sleep(self.listing_delay)
        if not self.lists_templates:
            await context.abort(grpc.StatusCode.UNIMPLEMENTED, "Method not implemented!")
        versions = {"lead_analysis": self.template} if self.template else {}
        return orchestrator_pb2.ListTemplatesResponse(versions=versions)

    async def Generate(
        self, request: orchestrator_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GenerateResponse:
        self.requests.append(request)
        remaining = context.time_remaining()
        if remaining is not None:
            self.time_left_on_arrival.append(remaining)
        self.in_flight += 1
        self.max_in_flight = max(self.max_in_flight, self.in_flight)
        try:
            await asyncio.sleep(self.delay)
        finally:
            self.in_flight -= 1
        if self.fail:
            raise unavailable("Claude is overloaded.")
        return orchestrator_pb2.GenerateResponse(
            result=orchestrator_pb2.GenerationResult(
                response=common_pb2.ClaudeResponse(
                    model="claude-haiku-5-5",
                    content=[
                        common_pb2.ContentBlock(text=common_pb2.TextBlock(text=self.answer_text))
                    ],
                ),
                cost=common_pb2.Cost(total_micros=1234, input_micros=800, output_micros=434),
                template_version=self.template,
            )
        )


@pytest.fixture
async def fake_orchestrator() -> AsyncIterator[tuple[FakeOrchestrator, str]]:
    servicer = FakeOrchestrator()
    registration = Registration(
        orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name,
        orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server,
        servicer,
    )
    async with serving(GrpcService("fake-orchestrator", [registration])) as running:
        yield servicer, running.address


def scoring_settings(orchestrator_addr: str = "127.0.0.1:1", **overrides: object) -> Settings:
    values: dict[str, object] = {
        "host": "127.0.0.1",
        "port": 0,
        "orchestrator_addr": orchestrator_addr,
        "reasoning_timeout_seconds": 5.0,
    }
    values.update(overrides)
    return Settings(**values)  # type: ignore[arg-type]


@pytest.fixture
async def scoring(
    fake_orchestrator: tuple[FakeOrchestrator, str],
) -> AsyncIterator[lead_scoring_pb2_grpc.LeadScoringServiceStub]:
    _, address = fake_orchestrator
    settings = scoring_settings(address)
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        yield lead_scoring_pb2_grpc.LeadScoringServiceStub(channel)
