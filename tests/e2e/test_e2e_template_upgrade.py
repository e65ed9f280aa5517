"""A new task template is never answered from a cache with the previous one's answers.

A request with template variables is answered with the task's template in its system prompt, so
its cached answer belongs to that template. In the gateway's exact cache: the stable orchestrator
renders `chat@1` and a canary renders `chat@2`; moving the canary's weight to 100 is the upgrade.
Without the template's version in the key, the first request after it would be an exact hit of
the `chat@1` answer. In lead scoring's cache of lead readings: the orchestrator is replaced by a
release that renders `lead_analysis@2`, on the same address, while every lead asked is a hit.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import Callable
from contextlib import AbstractAsyncContextManager
from pathlib import Path
from typing import Any

import grpc

from tests.conftest import ALL_ON, FullSuite, both_modes
from tollgate.client import CompletionResult
from tollgate.common.testing import serving
from tollgate.emulator import EmulatorServer
from tollgate.lead_scoring.service import build_service as build_lead_scoring
from tollgate.lead_scoring.settings import Settings as LeadScoringSettings
from tollgate.orchestrator.service import build_service as build_orchestrator
from tollgate.orchestrator.settings import Settings as OrchestratorSettings
from tollgate.v1 import common_pb2, gateway_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc

REQUEST: dict[str, Any] = {
    "model": "claude-sonnet-5-5",
    "messages": [{"role": "user", "content": "Which documents does a first-time buyer need?"}],
    "max_tokens": 120,
    "temperature": 0.0,
    "template_variables": {"agency": "Harbor Homes"},
}
BYPASS = gateway_pb2.CachePreference(mode=gateway_pb2.CACHE_MODE_BYPASS)
FIRST = "You are version one of the assistant of {{agency}}."
SECOND = "You are version two of the assistant of {{agency}}."


def _templates(folder: Path, versions: dict[str, str]) -> str:
    folder.mkdir()
    for name, text in versions.items():
        (folder / name).write_text(text)
    return str(folder)


def _flags(canary_weight: int) -> dict[str, Any]:
    return {**ALL_ON, "canaries": {"orchestrator": {"canaryWeight": canary_weight}}}


def _orchestrator_track(result: CompletionResult) -> str:
    return next(s.track for s in result.account.served_by if s.service == "orchestrator")


def _orchestrator_settings(
    emulator: EmulatorServer, templates: str, port: int = 0
) -> OrchestratorSettings:
    return OrchestratorSettings(
        host="127.0.0.1",
        port=port,
        anthropic_base_url=emulator.base_url,
        anthropic_api_key="emulator-key",
        templates_dir=templates,
    )


def _last_system_prompt(emulator: EmulatorServer) -> str:
    calls = [r for r in emulator.stats.requests if r.path == "/v1/messages"]
    return json.dumps(calls[-1].body["system"])


@both_modes
async def test_after_a_template_upgrade_the_previous_templates_answer_is_not_served(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
    emulator: EmulatorServer,
    tmp_path: Path,
) -> None:
    stable_dir = _templates(tmp_path / "stable", {"chat@1.txt": FIRST})
    canary_dir = _templates(tmp_path / "canary", {"chat@1.txt": FIRST, "chat@2.txt": SECOND})
    canary_settings = _orchestrator_settings(emulator, canary_dir)
    # The canary is a deployment of its own, reached over the network in both modes.
    async with (
        serving(await build_orchestrator(canary_settings), canary_settings) as canary,
        start_suite(
            _flags(0),
            orchestrator_overrides={"templates_dir": stable_dir},
            orchestrator_canary_addr=canary.address,
            template_versions_poll_seconds=0.2,
        ) as suite,
        suite.client() as client,
    ):
        made_by_first = await client.complete(**REQUEST)
        assert "version one" in _last_system_prompt(emulator)
        await suite.settled()
        again = await client.complete(**REQUEST)
        assert again.account.cache_status == common_pb2.CACHE_STATUS_EXACT
        assert again.text == made_by_first.text

        # The upgrade: every call now goes to the orchestrator that renders chat@2. A probe
        # that bypasses the cache shows when the gateway routes there.
        suite.write_flags(_flags(100))
        for _ in range(50):
            probe = await client.complete(**REQUEST, cache=BYPASS)
            if _orchestrator_track(probe) == "canary":
                break
            await asyncio.sleep(0.1)
        assert _orchestrator_track(probe) == "canary"
        calls_before = suite.upstream_calls()
        upgraded = await client.complete(**REQUEST)
        assert upgraded.account.cache_status == common_pb2.CACHE_STATUS_MISS, (
            "chat@1's answer was served after the upgrade to chat@2"
        )
        assert _orchestrator_track(upgraded) == "canary"
        assert suite.upstream_calls() == calls_before + 1
        assert "version two" in _last_system_prompt(emulator)
        await suite.settled()
        # chat@2's own answer is cached from now on.
        cached = await client.complete(**REQUEST)
        assert cached.account.cache_status == common_pb2.CACHE_STATUS_EXACT
        assert suite.upstream_calls() == calls_before + 1


ANALYST_FIRST = "You are analyst one for {{company}}, reading {{lead_name}}."
ANALYST_SECOND = "You are analyst two for {{company}}, reading {{lead_name}}."
SCORE_WITH_REASONING = lead_scoring_pb2.ComputeLeadScoreRequest(
    context=common_pb2.RequestContext(tenant_id="acme"),
    lead=lead_scoring_pb2.Lead(
        profile=lead_scoring_pb2.LeadProfile(lead_id="crm-1", name="Dana", source="website"),
        answers=lead_scoring_pb2.QualificationAnswers(budget="$650k", timeline="60 days"),
    ),
    with_reasoning=True,
)


async def test_after_an_orchestrator_upgrade_lead_scoring_reads_leads_again(
    emulator: EmulatorServer, tmp_path: Path
) -> None:
    first = _orchestrator_settings(
        emulator, _templates(tmp_path / "first", {"lead_analysis@1.txt": ANALYST_FIRST})
    )
    upgraded_templates = _templates(
        tmp_path / "upgraded",
        {"lead_analysis@1.txt": ANALYST_FIRST, "lead_analysis@2.txt": ANALYST_SECOND},
    )
    async with serving(await build_orchestrator(first), first) as orchestrator:
        settings = LeadScoringSettings(
            host="127.0.0.1",
            port=0,
            orchestrator_addr=orchestrator.address,
            template_versions_poll_seconds=0.2,
        )
        async with (
            serving(await build_lead_scoring(settings), settings) as running,
            grpc.aio.insecure_channel(running.address) as channel,
        ):
            scoring = lead_scoring_pb2_grpc.LeadScoringServiceStub(channel)
            await scoring.ComputeLeadScore(SCORE_WITH_REASONING)
            assert "analyst one" in _last_system_prompt(emulator)
            await scoring.ComputeLeadScore(SCORE_WITH_REASONING)
            assert _messages_calls(emulator) == 1  # the second reading came from the cache

            # The release: the orchestrator is replaced by one rendering lead_analysis@2.
            port = int(orchestrator.address.rsplit(":", 1)[1])
            await orchestrator.stop(grace=0)
            upgraded = _orchestrator_settings(emulator, upgraded_templates, port)
            async with serving(await build_orchestrator(upgraded), upgraded):
                deadline = time.monotonic() + 15
                while _messages_calls(emulator) == 1 and time.monotonic() < deadline:
                    await scoring.ComputeLeadScore(SCORE_WITH_REASONING)
                    await asyncio.sleep(0.05)
                assert _messages_calls(emulator) == 2, "lead_analysis@1's reading kept being served"
                assert "analyst two" in _last_system_prompt(emulator)
                # lead_analysis@2's own reading is cached from now on.
                await scoring.ComputeLeadScore(SCORE_WITH_REASONING)
                assert _messages_calls(emulator) == 2


def _messages_calls(emulator: EmulatorServer) -> int:
    return sum(1 for r in emulator.stats.requests if r.path == "/v1/messages")
