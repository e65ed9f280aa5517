"""Lead reasoning end to end (lead scoring → orchestrator → Anthropic API emulator over HTTP):
what reaches the API carries no email, phone, address, name or configured personal field, and
lead analysis goes to the small model."""

from __future__ import annotations

import json

import grpc

from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.lead_scoring.service import build_service as build_lead_scoring
from tollgate.lead_scoring.settings import Settings as LeadScoringSettings
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc

SECRETS = {
    "name": "Marisol Quintanilla",
    "email": "marisol.q@example.com",
    "phone": "(512) 555-0187",
    "address": "4821 Bluebonnet Lane",
    "configured": "Esteban",  # the spouse's name, a field this deployment calls personal
}


def _text(role: int, text: str) -> common_pb2.Message:
    return common_pb2.Message(
        role=role,  # type: ignore[arg-type]
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
    )


def _lead() -> lead_scoring_pb2.Lead:
    lead = lead_scoring_pb2.Lead(
        profile=lead_scoring_pb2.LeadProfile(
            lead_id="crm-7781",
            name=SECRETS["name"],
            source="website",
            attributes={
                "email": SECRETS["email"],
                "Phone": SECRETS["phone"],
                "home_address": SECRETS["address"],
                "spouse": SECRETS["configured"],
                "preferred_school_district": "Round Rock ISD",
            },
        ),
        answers=lead_scoring_pb2.QualificationAnswers(
            budget="$650k",
            timeline="60 days",
            location="Round Rock",
            pre_approval="pre-approved",
            contact_preference=f"text {SECRETS['phone']} or email {SECRETS['email']}",
        ),
    )
    lead.profile.created_at.GetCurrentTime()
    lead.conversation.extend(
        [
            _text(common_pb2.ROLE_ASSISTANT, "Hi! Who am I speaking with?"),
            _text(
                common_pb2.ROLE_USER,
                f"I'm {SECRETS['name']}, my husband {SECRETS['configured']} and I live at "
                f"{SECRETS['address']}. Call me on {SECRETS['phone']} or write to "
                f"{SECRETS['email']}. Marisol is fine. We want 3 bedrooms near good schools.",
            ),
        ]
    )
    return lead


async def test_no_personal_data_reaches_the_anthropic_api(emulator: EmulatorServer) -> None:
    orchestrator_settings = OrchestratorSettings(
        host="127.0.0.1",
        port=0,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
    )
    async with serving(
        await build_orchestrator(orchestrator_settings), orchestrator_settings
    ) as orchestrator:
        settings = LeadScoringSettings(
            host="127.0.0.1",
            port=0,
            orchestrator_addr=orchestrator.address,
            pii_fields=["spouse"],
        )
        async with (
            serving(await build_lead_scoring(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            reply = await lead_scoring_pb2_grpc.LeadScoringServiceStub(channel).ComputeLeadScore(
                lead_scoring_pb2.ComputeLeadScoreRequest(
                    context=common_pb2.RequestContext(tenant_id="acme"),
                    lead=_lead(),
                    with_reasoning=True,
                )
            )
    assert reply.score.reasoning.narrative  # Claude (the emulator) was asked and answered
    calls = [r for r in emulator.stats.requests if r.path == "/v1/messages"]
    assert len(calls) == 1
    sent = json.dumps(calls[0].body)
    for kind, value in SECRETS.items():
        assert value not in sent, f"{kind} reached the API"
        for part in value.split():
            if len(part) > 3 and not part.isdigit() and part not in ("Lane",):
                assert part not in sent, f"part of the {kind} reached the API: {part}"
    assert "Marisol" not in sent
    assert "555" not in sent
    # What the prompt still says: the facts that matter, the markers, the allowed attribute.
    assert "[email]" in sent
    assert "[phone]" in sent
    assert "[address]" in sent
    assert "Round Rock ISD" in sent
    assert "$650k" in sent
    # Lead analysis takes the small model by the orchestrator's routing configuration.
    assert calls[0].model == "claude-haiku-5-5"
