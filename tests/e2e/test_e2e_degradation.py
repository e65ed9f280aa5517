"""With each dependency stopped in turn the gateway still answers; a ledger outage refuses or
answers unmetered by the tenant's fail mode; shadow mode never changes what Claude is sent."""

from __future__ import annotations

import asyncio
import re
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from copy import deepcopy
from pathlib import Path
from typing import Any

import grpc
import pytest

from tests.conftest import ALL_ON, FullSuite, both_modes, running_full_suite
from tollgate.client import TollgateError
from tollgate.emulator import EmulatorServer
from tollgate.gateway.settings import Settings
from tollgate.v1 import common_pb2

EVERYTHING: dict[str, Any] = deepcopy(ALL_ON)
EVERYTHING["flags"].update(
    {
        "semantic_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        "conversation_optimization": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
    }
)


def _request(question: str, *, history: bool = False) -> dict[str, Any]:
    """One question; with `history`, as the third turn of a chat (the conversation optimizer
    is not asked about a single message: it has no history to cut)."""
    earlier = [
        {"role": "user", "content": "We are looking in Denver."},
        {"role": "assistant", "content": "Noted: Denver."},
    ]
    return {
        "model": "claude-sonnet-5-5",
        "messages": (earlier if history else []) + [{"role": "user", "content": question}],
        "max_tokens": 800,
        "temperature": 0.0,
    }


def _detail(account: common_pb2.Account, key: str) -> str:
    return next(r.detail for r in account.optimizations if r.optimization == key)


@pytest.fixture
async def everything_on(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> AsyncIterator[FullSuite]:
    # These tests stop backends. Work after the answer that cannot reach a stopped ledger would
    # hold the gateway's stop for its whole grace (10 s in tests); they judge the answers, not
    # that drain (tests/e2e/test_e2e_graceful_shutdown.py does).
    async with start_suite(EVERYTHING, shutdown_grace_seconds=1.0) as suite:
        yield suite


async def test_optimizer_and_semantic_cache_down_still_answers(everything_on: FullSuite) -> None:
    # The fixture points the semantic cache at a port where nothing listens.
    await everything_on.servers["conversation_optimizer"].stop(grace=0)
    async with everything_on.client() as client:
        result = await client.complete(**_request("Any 2-bed condos?", history=True))
    assert result.text
    assert "skipped" in _detail(result.account, "semantic_cache")
    assert "skipped" in _detail(result.account, "conversation_optimization")


@both_modes
async def test_cache_stopped_still_answers(everything_on: FullSuite) -> None:
    await everything_on.servers["cache"].stop(grace=0)
    async with everything_on.client() as client:
        result = await client.complete(**_request("What is the HOA fee?"))
    assert result.text
    assert "skipped" in _detail(result.account, "exact_cache")


@both_modes
async def test_a_cache_too_slow_is_skipped_at_its_deadline_and_its_handler_cancelled(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    cancelled = asyncio.Event()

    async def never_answers(*_args: Any) -> None:
        try:
            await asyncio.sleep(60)
        except asyncio.CancelledError:
            cancelled.set()
            raise

    # A lookup's deadline is five times this: half a second.
    async with start_suite(EVERYTHING, cache_timeout_seconds=0.1) as suite:
        servicer = suite.servers["cache"].service.registrations[0].servicer
        monkeypatch.setattr(servicer, "_lookup_call", never_answers)
        async with suite.client() as client:
            result = await client.complete(**_request("Is there a pool?"))
        assert result.text
        assert "did not answer in time" in _detail(result.account, "exact_cache")
        # The gateway's deadline reached the cache: its handler stopped waiting too.
        await asyncio.wait_for(cancelled.wait(), 5)


@both_modes
async def test_ledger_stopped_fails_closed_with_a_clear_sentence(everything_on: FullSuite) -> None:
    await everything_on.servers["budget_ledger"].stop(grace=0)
    async with everything_on.client() as client:
        with pytest.raises(TollgateError) as caught:
            await client.complete(**_request("Schedule a viewing?"))
    assert caught.value.code == grpc.StatusCode.UNAVAILABLE
    assert "budget ledger is unavailable" in caught.value.message
    assert everything_on.upstream_calls() == 0


async def test_ledger_stopped_fails_open_when_the_tenant_is_configured_so(
    everything_on: FullSuite,
) -> None:
    flags = deepcopy(EVERYTHING)
    flags["flags"]["budget_enforcement"]["parameters"] = {
        "failMode": "closed",
        "failOpenTenants": ["acme"],
    }
    everything_on.write_flags(flags)
    await everything_on.servers["budget_ledger"].stop(grace=0)
    await asyncio.sleep(0.5)  # the gateway polls the flags file every 0.2 s here
    async with everything_on.client() as client:
        result = await client.complete(**_request("Schedule a viewing?"))
    assert result.text
    assert "unmetered" in _detail(result.account, "budget_enforcement")


async def test_shadow_mode_changes_nothing_sent_to_claude_but_reports_the_saving(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    flags = deepcopy(ALL_ON)
    flags["flags"]["exact_cache"]["mode"] = "shadow"
    async with (
        running_full_suite(
            emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, flags
        ) as suite,
        suite.client() as client,
    ):
        request = _request("What does a home inspection cover?")
        first = await client.complete(**request)
        # Shadow mode still fills the cache, so that it can tell what it would have saved.
        await suite.settled()
        shadowed = await client.complete(**request)
    bodies = [r.body for r in emulator.stats.requests if r.path == "/v1/messages"]
    assert len(bodies) == 2
    assert bodies[0] == bodies[1]
    assert shadowed.text == first.text
    assert shadowed.account.cache_status == common_pb2.CACHE_STATUS_MISS
    report = next(r for r in shadowed.account.optimizations if r.optimization == "exact_cache")
    assert report.mode == common_pb2.FLAG_MODE_SHADOW
    assert not report.applied
    assert "would have answered" in report.detail
    assert report.micros_saved == shadowed.account.cost.total_micros > 0
    assert shadowed.account.saved_micros == 0


@both_modes
async def test_account_details_never_show_a_backends_address_or_raw_error(
    everything_on: FullSuite,
) -> None:
    flags = deepcopy(EVERYTHING)
    flags["flags"]["budget_enforcement"]["parameters"] = {"failOpenTenants": ["acme"]}
    everything_on.write_flags(flags)
    for backend in ("cache", "conversation_optimizer", "budget_ledger"):
        await everything_on.servers[backend].stop(grace=0)
    await asyncio.sleep(0.5)  # the gateway polls the flags file every 0.2 s here
    async with everything_on.client() as client:
        result = await client.complete(**_request("Is parking included?", history=True))
    details = {r.optimization: r.detail for r in result.account.optimizations}
    for key in ("exact_cache", "conversation_optimization", "semantic_cache", "budget_enforcement"):
        assert details[key].startswith("skipped: the "), details
    assert "answered unmetered" in details["budget_enforcement"]
    for detail in details.values():
        for leak in (
            "127.0.0.1",
            "in-process",
            "ipv4",
            "ipv6",
            "StatusCode",
            "failed to connect",
            "stable",
        ):
            assert leak not in detail, detail
        assert not re.search(r":\d{2,5}\b", detail), detail


@both_modes
async def test_one_slow_moment_of_claude_seen_by_many_requests_does_not_shut_the_gateway(
    start_suite: Callable[..., AbstractAsyncContextManager[FullSuite]],
) -> None:
    """Ten requests in flight when Claude stalls past the gateway's deadline for the
    orchestrator: each fails, but together they count as one failure of the orchestrator, so
    the request after the stall is answered. A Claude that stays slow still opens the circuit,
    after five failures one after another."""
    async with start_suite(EVERYTHING, orchestrator_timeout_seconds=0.3) as suite:
        suite.emulator.config.latency.ttft_ms = 1000
        async with suite.client() as client:
            stalled = await asyncio.gather(
                *(client.complete(**_request(f"Is unit {n} still listed?")) for n in range(10)),
                return_exceptions=True,
            )
            assert {type(o) for o in stalled} == {TollgateError}
            assert {o.code for o in stalled if isinstance(o, TollgateError)} == {
                grpc.StatusCode.DEADLINE_EXCEEDED
            }
            suite.emulator.config.latency.ttft_ms = 0
            answered = await client.complete(**_request("Is unit 11 still listed?"))
            assert answered.text
            # Slow for good: five failures one after another open the circuit, and the next
            # request is refused at once without reaching Claude.
            suite.emulator.config.latency.ttft_ms = 1000
            for n in range(Settings().breaker_failure_threshold):
                with pytest.raises(TollgateError) as slow:
                    await client.complete(**_request(f"Is unit {20 + n} still listed?"))
                assert slow.value.code == grpc.StatusCode.DEADLINE_EXCEEDED
            calls_before = suite.upstream_calls()
            with pytest.raises(TollgateError) as refused:
                await client.complete(**_request("Is unit 30 still listed?"))
        assert refused.value.code == grpc.StatusCode.UNAVAILABLE
        assert "orchestrator is unavailable" in refused.value.message
        assert suite.upstream_calls() == calls_before
