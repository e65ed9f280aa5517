"""Day-2 operations the chart must get right: drains and connection recycling that never cut the
longest call."""

from __future__ import annotations

import base64
import re
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


def test_pods_roll_when_a_chart_managed_store_url_changes(helm: Any, facts: Any) -> None:
    def annotations(rendered: Any, key: str) -> dict[str, str]:
        deployment = rendered.get("Deployment", facts.resource_name(key))
        return dict(deployment["spec"]["template"]["metadata"]["annotations"])

    before = helm.render("default")
    after = helm.render("default", values={"redis.auth.password": "rotated"})
    assert (
        annotations(after, "cache")["checksum/store-url"]
        != (annotations(before, "cache")["checksum/store-url"])
    )
    # Only the service that reads that URL rolls.
    assert annotations(after, "budgetLedger") == annotations(before, "budgetLedger")
    assert annotations(after, "gateway") == annotations(before, "gateway")


def test_the_bundled_redis_requires_a_password_its_client_knows(helm: Any, facts: Any) -> None:
    rendered = helm.render("default")
    redis = rendered.get("StatefulSet", f"{facts.fullname}-redis")
    container = redis["spec"]["template"]["spec"]["containers"][0]
    assert "--requirepass" in container["args"]
    env = {e["name"]: e["valueFrom"]["secretKeyRef"] for e in container["env"]}
    assert env["REDISCLI_AUTH"] == {"name": f"{facts.fullname}-stores", "key": "redis-password"}
    stores = rendered.get("Secret", f"{facts.fullname}-stores")["data"]
    url = base64.b64decode(stores["redis-url"]).decode()
    password = base64.b64decode(stores["redis-password"]).decode()
    assert url.startswith(f"redis://:{password}@")


def test_an_image_digest_pins_the_image(helm: Any, facts: Any) -> None:
    digest = "sha256:" + "ab" * 32
    rendered = helm.render("default", values={"services.cache.image.digest": digest})
    image = rendered.container("Deployment", facts.resource_name("cache"))["image"]
    assert image == f"tollgate/cache@{digest}"
    assert (
        "sha256:" not in rendered.container("Deployment", facts.resource_name("gateway"))["image"]
    )
    assert "digest" in helm.render_error(
        "default", values={"services.cache.image.digest": "latest"}
    )


def test_a_service_monitor_scrapes_every_service_with_its_track(helm: Any, facts: Any) -> None:
    assert helm.render("default").find("ServiceMonitor", facts.fullname) is None
    rendered = helm.render(
        "canary",
        values={"serviceMonitor": {"enabled": True, "labels": {"release": "prom"}}},
    )
    monitor = rendered.get("ServiceMonitor", facts.fullname)
    assert monitor["metadata"]["labels"]["release"] == "prom"
    assert monitor["spec"]["targetLabels"] == ["track"]
    assert monitor["spec"]["endpoints"][0]["port"] == "metrics"
    expressions = {e["key"]: e["values"] for e in monitor["spec"]["selector"]["matchExpressions"]}
    components = set(expressions["app.kubernetes.io/component"])
    for service in rendered.of_kind("Service"):
        labels = service["metadata"]["labels"]
        if any(p["name"] == "metrics" for p in service["spec"]["ports"]):
            assert labels["app.kubernetes.io/component"] in components
            assert labels["app.kubernetes.io/instance"] in expressions["app.kubernetes.io/instance"]


def test_egress_mode_lets_each_service_reach_only_what_it_needs(helm: Any, facts: Any) -> None:
    plain = helm.render("default", values={"networkPolicy.enabled": True})
    assert all(p["spec"]["policyTypes"] == ["Ingress"] for p in plain.of_kind("NetworkPolicy"))
    rendered = helm.render(
        "default", values={"networkPolicy": {"enabled": True, "egress": {"enabled": True}}}
    )

    def reachable(key: str) -> list[str]:
        policy = rendered.get("NetworkPolicy", facts.resource_name(key))
        assert policy["spec"]["policyTypes"] == ["Ingress", "Egress"]
        peers = []
        for rule in policy["spec"]["egress"]:
            ports = sorted(str(p["port"]) for p in rule["ports"])
            for peer in rule.get("to", [{"anywhere": True}]):
                component = (
                    peer.get("podSelector", {})
                    .get("matchLabels", {})
                    .get("app.kubernetes.io/component", "anywhere")
                )
                peers.append(f"{component}:{','.join(ports)}")
        return sorted(peers)

    assert reachable("cache") == ["anywhere:53,53", "redis:6379"]
    # Redis: the replicas' shared rate-limit bucket (fleet pacing, on by default).
    assert reachable("orchestrator") == ["anywhere:443", "anywhere:53,53", "redis:6379"]
    assert reachable("leadScoring") == ["anywhere:53,53", "orchestrator:grpc"]
    gateway = reachable("gateway")
    for backend in ("orchestrator", "cache", "budget-ledger", "semantic-cache"):
        assert f"{backend}:grpc" in gateway
    assert "anywhere:443,6443" in gateway  # the flags watch
    # Its sessions' own Redis, and no other store.
    assert [p for p in gateway if p.endswith(":6379")] == ["sessions-redis:6379"]


def test_runtime_overrides_live_in_a_configmap_helm_never_renders(
    rendered: Any, facts: Any
) -> None:
    overrides = f"{facts.fullname}-flag-overrides"
    # Not in Helm's manifest, in any value set: upgrades and rollbacks cannot touch it.
    assert rendered.find("ConfigMap", overrides) is None
    pod = rendered.get("Deployment", facts.resource_name("gateway"))["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "flag-overrides")
    # Optional: the gateway starts before anyone has set an override.
    assert volume["configMap"] == {"name": overrides, "optional": True}
    mount = next(m for m in pod["containers"][0]["volumeMounts"] if m["name"] == "flag-overrides")
    env = {e["name"]: e.get("value") for e in pod["containers"][0]["env"]}
    assert env["TOLLGATE_GATEWAY_FLAGS_OVERRIDES_FILE"].startswith(mount["mountPath"] + "/")


def test_alert_rules_name_only_metrics_the_suite_exports(helm: Any, facts: Any) -> None:
    assert helm.render("default").find("PrometheusRule", facts.fullname) is None
    rendered = helm.render("default", values={"prometheusRule.enabled": True})
    rules = rendered.get("PrometheusRule", facts.fullname)["spec"]["groups"][0]["rules"]
    assert {r["alert"] for r in rules} >= {"TollgateLedgerWriteLost"}
    # The names the gateway and every service export (checked against a live scrape by
    # tests/e2e/test_e2e_dashboard_metrics.py, which reads this chart's rules too).
    exported = {
        "tollgate_gateway_background_failures_total",
        "tollgate_gateway_fail_open_total",
        "tollgate_rpc_requests_total",
    }
    for rule in rules:
        assert set(re.findall(r"\btollgate_[a-z_]+\b", rule["expr"])) <= exported
