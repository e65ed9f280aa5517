"""Canary routing: calls split by the weight in the flags file, sticky per tenant and contact."""

from __future__ import annotations

import grpc
import pytest

from tollgate.gateway.flags_config import parse_gateway_config
from tollgate.gateway.routing import STUBS, BackendRouter
from tollgate.gateway.settings import Settings


@pytest.fixture
async def router() -> BackendRouter:
    settings = Settings(cache_canary_addr="127.0.0.1:1", orchestrator_canary_addr="127.0.0.1:2")
    router = BackendRouter.connect(settings)
    # These tests are about the split; readiness has its own (test_gateway_canary_readiness).
    for backend in router.backends.values():
        backend.canary_serving = True
    return router


@pytest.mark.parametrize("weight", [0, 5, 30, 50, 100])
async def test_split_is_within_three_points_of_the_weight(
    router: BackendRouter, weight: int
) -> None:
    config = parse_gateway_config(f"canaries:\n  orchestrator: {{canaryWeight: {weight}}}\n")
    tracks = [
        router.route("orchestrator", config, f"tenant-{i % 50}", f"contact-{i}").name
        for i in range(10_000)
    ]
    share = tracks.count("canary") / len(tracks) * 100
    assert abs(share - weight) <= 3
    await router.close()


async def test_the_same_contact_always_gets_the_same_track(router: BackendRouter) -> None:
    config = parse_gateway_config("canaries:\n  cache: {canaryWeight: 50}\n")
    first = [router.route("cache", config, "acme", f"c{i}").name for i in range(200)]
    again = [router.route("cache", config, "acme", f"c{i}").name for i in range(200)]
    assert first == again
    assert set(first) == {"stable", "canary"}
    await router.close()


async def test_a_backend_without_a_canary_ignores_the_weight(router: BackendRouter) -> None:
    config = parse_gateway_config("canaries:\n  budget_ledger: {canaryWeight: 100}\n")
    assert router.route("budget_ledger", config, "acme", "c").name == "stable"
    await router.close()


async def test_every_ledger_track_coalesces_its_hold_calls_and_nothing_else() -> None:
    """Reserve, Commit and Release of every ledger deployment (stable and canary) go through the
    coalescing stub; every other backend, and the ledger's other methods, are called as before."""
    from tollgate.gateway.ledger_coalescing import CoalescedLedgerStub

    router = BackendRouter.connect(Settings(budget_ledger_canary_addr="127.0.0.1:3"))
    try:
        ledger = router.backends["budget_ledger"]
        for track in ledger.tracks():
            assert isinstance(track.stub, CoalescedLedgerStub)
            assert track.stub.Reserve.__self__ is track.stub
            # Reports and administration stay unary: the channel's own callables.
            assert isinstance(track.stub.UpsertBudget, grpc.aio.UnaryUnaryMultiCallable)
            assert isinstance(track.stub.RecordUsage, grpc.aio.UnaryUnaryMultiCallable)
        assert len(ledger.tracks()) == 2
        others = [b for name, b in router.backends.items() if name != "budget_ledger"]
        assert not any(isinstance(t.stub, CoalescedLedgerStub) for b in others for t in b.tracks())
    finally:
        await router.close()


async def test_the_breakers_of_required_backends_count_calls_in_flight_together_as_one_failure(
    router: BackendRouter,
) -> None:
    """An open circuit of the ledger (budgets fail closed), the orchestrator or lead scoring
    refuses requests: it opens on a backend that keeps failing, not on one slow moment seen by
    every request in flight. The optional steps' circuits open as before."""
    opened = {}
    for name in STUBS:
        breaker = router.backends[name].stable.breaker
        started = breaker.now() - 1.0  # in flight together for a second, failing at once
        for _ in range(Settings().breaker_failure_threshold):
            breaker.record_failure(started)
        opened[name] = breaker.is_open
    await router.close()
    assert opened == {
        "budget_ledger": False,
        "orchestrator": False,
        "lead_scoring": False,
        "cache": True,
        "semantic_cache": True,
        "conversation_optimizer": True,
    }
