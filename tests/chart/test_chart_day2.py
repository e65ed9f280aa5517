"""Day-2 operations the chart must get right: drains and connection recycling that never cut the
longest call."""

from __future__ import annotations

from typing import Any


def _setting(env: dict[str, Any], suffix: str) -> float:
    return float(next(value for name, value in env.items() if name.endswith(suffix)))


def test_drain_and_connection_recycling_outlast_the_longest_call(rendered: Any) -> None:
    for deployment in rendered.of_kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        env = {e["name"]: e.get("value") for e in spec["containers"][0].get("env", [])}
        if not any(name.endswith("_SHUTDOWN_GRACE_SECONDS") for name in env):
            continue  # the bundled stores
        grace = _setting(env, "_SHUTDOWN_GRACE_SECONDS")
        assert spec["terminationGracePeriodSeconds"] > grace
        assert _setting(env, "_MAX_CONNECTION_AGE_SECONDS") > 0
        # The default callDeadlineSeconds, which the gateway receives as its Claude timeout.
        deadline = float(env.get("TOLLGATE_GATEWAY_ORCHESTRATOR_TIMEOUT_SECONDS", 120))
        assert grace >= deadline
        assert _setting(env, "_MAX_CONNECTION_AGE_GRACE_SECONDS") >= deadline


def test_a_longer_call_deadline_needs_longer_graces(helm: Any) -> None:
    error = helm.render_error("default", values={"default.callDeadlineSeconds": 600})
    assert "shorter than callDeadlineSeconds" in error
    rendered = helm.render(
        "default",
        values={
            "default.callDeadlineSeconds": 600,
            "default.shutdownGraceSeconds": 605,
            "default.connectionAgeGraceSeconds": 605,
        },
    )
    gateway = next(
        d for d in rendered.of_kind("Deployment") if d["metadata"]["name"].endswith("-gateway")
    )
    env = {
        e["name"]: e.get("value")
        for e in gateway["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TOLLGATE_GATEWAY_ORCHESTRATOR_TIMEOUT_SECONDS"] == "600"
    assert gateway["spec"]["template"]["spec"]["terminationGracePeriodSeconds"] == 605 + 5 + 5
