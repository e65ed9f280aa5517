"""Services that call Claude through the orchestrator are pointed at it, and the NetworkPolicy
lets exactly them (and the gateway) in."""

from __future__ import annotations

from typing import Any


def _component(peer: dict[str, Any]) -> str:
    return str(peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"])


def test_lead_scoring_and_the_optimizer_reach_the_orchestrator(helm: Any) -> None:
    rendered = helm.render("default")
    orchestrator = rendered.get("Service", "tg-tollgate-orchestrator")
    assert orchestrator["spec"]["clusterIP"] == "None"
    target = f"dns:///tg-tollgate-orchestrator.{orchestrator['metadata']['namespace']}"
    lead = rendered.env("Deployment", "tg-tollgate-lead-scoring")
    optimizer = rendered.env("Deployment", "tg-tollgate-conversation-optimizer")
    assert lead["TOLLGATE_LEAD_SCORING_ORCHESTRATOR_ADDR"].startswith(target)
    assert optimizer["TOLLGATE_CONVERSATION_OPTIMIZER_ORCHESTRATOR_ADDRESS"].startswith(target)


def test_only_the_gateway_and_the_claude_callers_may_call_the_orchestrator(helm: Any) -> None:
    rendered = helm.render("external-stores")
    policy = rendered.get("NetworkPolicy", "tg-tollgate-orchestrator")
    grpc_rule = next(
        rule for rule in policy["spec"]["ingress"] if rule["ports"][0]["port"] == "grpc"
    )
    assert {_component(peer) for peer in grpc_rule["from"]} == {
        "gateway",
        "lead-scoring",
        "conversation-optimizer",
    }
    cache = rendered.get("NetworkPolicy", "tg-tollgate-cache")
    cache_rule = next(r for r in cache["spec"]["ingress"] if r["ports"][0]["port"] == "grpc")
    assert {_component(peer) for peer in cache_rule["from"]} == {"gateway"}


def test_the_gateway_is_told_the_longest_hold_the_ledger_accepts(helm: Any) -> None:
    """A hold_ttl past the ledger's maximum is refused: one value sets both sides."""
    for values, expected in (
        ({}, "3600"),
        ({"services.budgetLedger.maxHoldTtlSeconds": 600}, "600"),
    ):
        rendered = helm.render("default", values=values)
        ledger = rendered.env("Deployment", "tg-tollgate-budget-ledger")
        gateway = rendered.env("Deployment", "tg-tollgate-gateway")
        assert ledger["TOLLGATE_BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS"] == expected
        assert gateway["TOLLGATE_GATEWAY_BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS"] == expected
