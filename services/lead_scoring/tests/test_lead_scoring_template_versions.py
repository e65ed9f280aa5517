"""Cached readings of a lead follow the orchestrator's lead_analysis template: a reading made with
one template is never served once the orchestrator renders another."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import pytest

from tollgate.lead_scoring.reasoning import OrchestratorReasoner
from tollgate.v1 import common_pb2

from .conftest import AS_OF, TENANT, FakeOrchestrator, make_lead

POLL_SECONDS = 0.05
CONTEXT = common_pb2.RequestContext(tenant_id=TENANT)
LEAD = make_lead(answers={"budget": "$450k", "timeline": "within 2 months"})


@pytest.fixture
async def reasoner(
    fake_orchestrator: tuple[FakeOrchestrator, str],
) -> AsyncIterator[OrchestratorReasoner]:
    _, address = fake_orchestrator
    reasoner = OrchestratorReasoner(
        address, 5.0, 512, 10, template_versions_poll_seconds=POLL_SECONDS
    )
    await reasoner.start()
    try:
        yield reasoner
    finally:
        await reasoner.close()


async def _served_from_cache(reasoner: OrchestratorReasoner) -> bool:
    outcome = (await reasoner.analyse(CONTEXT, LEAD, None, AS_OF)).outcome
    assert outcome is not None
    return outcome.cached


async def test_after_a_template_upgrade_the_previous_templates_reading_is_not_served(
    fake_orchestrator: tuple[FakeOrchestrator, str], reasoner: OrchestratorReasoner
) -> None:
    orchestrator, _ = fake_orchestrator
    assert not await _served_from_cache(reasoner)
    assert await _served_from_cache(reasoner)

    # The orchestrator is upgraded; every lead is a hit, so only the polling can tell.
    orchestrator.template = "lead_analysis@2"
    await asyncio.sleep(POLL_SECONDS * 4)
    assert not await _served_from_cache(reasoner), "lead_analysis@1's reading was served"
    assert await _served_from_cache(reasoner)  # lead_analysis@2's own reading from now on
    assert len(orchestrator.requests) == 2


async def test_a_reading_made_with_another_template_than_expected_is_kept_under_its_own(
    fake_orchestrator: tuple[FakeOrchestrator, str], reasoner: OrchestratorReasoner
) -> None:
    orchestrator, _ = fake_orchestrator
    orchestrator.template = "lead_analysis@1"
    assert not await _served_from_cache(reasoner)  # the first need reads lead_analysis@1
    # A rolling update: the pod that answers renders lead_analysis@2, while the listing (the
    # polling is slower than this test) still says lead_analysis@1 was expected.
    other_lead = make_lead(lead_id="lead-2")
    orchestrator.template = "lead_analysis@2"
    made = (await reasoner.analyse(CONTEXT, other_lead, None, AS_OF)).outcome
    assert made is not None
    assert not made.cached
    # The result taught the new template: lead_analysis@1's reading of LEAD is not served, and
    # the reading of the other lead, made with lead_analysis@2, is.
    assert not await _served_from_cache(reasoner)
    again = (await reasoner.analyse(CONTEXT, other_lead, None, AS_OF)).outcome
    assert again is not None
    assert again.cached
    assert len(orchestrator.requests) == 3


async def test_an_orchestrator_naming_no_template_is_never_served_from_the_cache(
    fake_orchestrator: tuple[FakeOrchestrator, str], reasoner: OrchestratorReasoner
) -> None:
    orchestrator, _ = fake_orchestrator
    orchestrator.lists_templates = False
    orchestrator.template = ""
    for _ in range(3):
        assert not await _served_from_cache(reasoner)
    assert len(orchestrator.requests) == 3
    # It was asked once, not by every reading: a failed read is retried a poll interval later.
    assert orchestrator.template_listings == 1


async def test_without_listtemplates_a_result_naming_its_template_teaches_it(
    fake_orchestrator: tuple[FakeOrchestrator, str], reasoner: OrchestratorReasoner
) -> None:
    orchestrator, _ = fake_orchestrator
    orchestrator.lists_templates = False
    assert not await _served_from_cache(reasoner)
    assert await _served_from_cache(reasoner)
    assert len(orchestrator.requests) == 1


async def test_the_wait_for_the_template_comes_out_of_the_callers_time(
    fake_orchestrator: tuple[FakeOrchestrator, str], reasoner: OrchestratorReasoner
) -> None:
    """The first reading waits for ListTemplates; the call to Claude then gets what is left of
    the caller's time, not the time there was before that wait."""
    orchestrator, _ = fake_orchestrator
    orchestrator.listing_delay = 0.5
    attempt = await reasoner.analyse(CONTEXT, LEAD, time_left=1.0, as_of=AS_OF)
    assert attempt.outcome is not None
    # 1.0 s less the 0.5 s wait, less the share kept for returning the score: about 0.45 s.
    assert orchestrator.time_left_on_arrival[0] < 0.5
