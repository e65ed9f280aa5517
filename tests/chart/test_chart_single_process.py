"""Single-process mode (singleProcess.enabled): one workload, the gateway's, runs every service
(`python -m tollgate.single_process`) with every setting, secret and file the seven would have
had, under the gateway's Service; canaries and switched-off services are refused."""

from __future__ import annotations

from typing import Any

import kubernetes_validate  # type: ignore[import-untyped]
import pytest

ON = {"singleProcess.enabled": True}
# Every option that adds a backend's setting, secret or file, and every object the mode adjusts.
FULL = ON | {
    "services.orchestrator.anthropic.apiKey": "sk-test",
    "services.orchestrator.anthropic.baseUrl": "http://emulator:8080",
    "services.leadScoring.model.json": '{"version": 1}',
    "services.leadScoring.pii.fields": ["salary"],
    "services.semanticCache.modelPath": "/models/minilm",
    "services.gateway.autoscaling.enabled": True,
    "services.cache.env": {"TOLLGATE_CACHE_KEY_PREFIX": "tg-cache"},
    "networkPolicy.enabled": True,
    "networkPolicy.egress.enabled": True,
    "serviceMonitor.enabled": True,
    "tls.gateway.enabled": True,
    "tls.gateway.secretName": "gateway-cert",
}
# Per service, the container settings that belong to its own server (address, ports, drain,
# TLS between pods) or to reaching another pod: the suite has neither. Everything else a
# backend's Deployment carries must reach the suite's container unchanged.
OWN_SERVER = (
    "HOST",
    "PORT",
    "METRICS_PORT",
    "HEALTH_PORT",
    "LOG_LEVEL",
    "SHUTDOWN_GRACE_SECONDS",
    "MAX_CONNECTION_AGE_SECONDS",
    "MAX_CONNECTION_AGE_GRACE_SECONDS",
    "TRACK",
    "ORCHESTRATOR_ADDR",
    "ORCHESTRATOR_ADDRESS",
)
SHARED = ("POD_NAME", "POD_NAMESPACE", "OTEL_RESOURCE_ATTRIBUTES")


def backend_settings(env: dict[str, Any], module: str) -> dict[str, Any]:
    prefix = f"TOLLGATE_{module.upper()}_"
    return {
        name: value
        for name, value in env.items()
        if name not in SHARED
        and name.removeprefix(prefix) not in OWN_SERVER
        and "TLS" not in name
        and "ALLOWED_CALLERS" not in name
    }


@pytest.fixture(scope="module")
def suite(helm: Any) -> Any:
    return helm.render("default", values=FULL)


@pytest.fixture(scope="module")
def seven(helm: Any) -> Any:
    """The same values in the default mode."""
    return helm.render("default", values={**FULL, "singleProcess.enabled": False})


def test_lint_strict_passes(helm: Any, facts: Any) -> None:
    output = helm.run("lint", "--strict", str(facts.chart), "--set", "singleProcess.enabled=true")
    assert "1 chart(s) linted, 0 chart(s) failed" in output


@pytest.mark.parametrize("kube_version", ["1.29.0", "1.35.0"])
@pytest.mark.parametrize("values", [ON, FULL], ids=["defaults", "full"])
def test_every_rendered_object_is_valid_kubernetes(
    helm: Any, values: dict[str, Any], kube_version: str
) -> None:
    rendered = helm.render("default", values=values, kube_version=kube_version)
    problems = []
    # The Prometheus Operator's ServiceMonitor is a custom resource: Kubernetes has no schema.
    for obj in (o for o in rendered.objects if o["kind"] != "ServiceMonitor"):
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")
    assert problems == []


def test_one_workload_under_the_gateways_name_and_no_backend_objects(
    suite: Any, seven: Any, facts: Any
) -> None:
    gateway = facts.resource_name("gateway")
    assert [d["metadata"]["name"] for d in suite.of_kind("Deployment")] == [gateway]
    for kind in ("Service", "ServiceAccount", "PodDisruptionBudget", "NetworkPolicy", "Secret"):
        tollgate = {o["metadata"]["name"] for o in suite.of_kind(kind)}
        for key in facts.services:
            if key != "gateway":
                assert not {n for n in tollgate if n.startswith(facts.resource_name(key))}, kind
    # Clients and the HTTP door see the same Service: name, type, ports, selector.
    assert suite.get("Service", gateway)["spec"] == seven.get("Service", gateway)["spec"]
    container = suite.container("Deployment", gateway)
    assert container["command"] == ["python", "-m", "tollgate.single_process"]
    assert container["image"] == "tollgate/single-process:0.1.0"
    assert {p["name"]: p["containerPort"] for p in container["ports"]} == {
        "grpc": 50051,
        "metrics": 9090,
        "http": 8080,
        # The gateway serves TLS (tls.gateway): its probes ask the plaintext health port.
        "health": 8086,
    }
    hpa = suite.get("HorizontalPodAutoscaler", gateway)
    assert hpa["spec"]["scaleTargetRef"]["name"] == gateway
    monitor = suite.of_kind("ServiceMonitor")[0]["spec"]["selector"]["matchExpressions"][1]
    assert monitor["values"] == ["gateway"]


def test_every_backend_setting_secret_and_file_reaches_the_one_container(
    suite: Any, seven: Any, facts: Any
) -> None:
    env = suite.env("Deployment", facts.resource_name("gateway"))
    for key, (module, _) in facts.services.items():
        expected = backend_settings(seven.env("Deployment", facts.resource_name(key)), module)
        if key == "gateway":
            # Its backends are in its process: it is given no address for them.
            expected = {n: v for n, v in expected.items() if not n.endswith("_ADDR")}
        # (The optimizer's only setting of its own is the orchestrator's address.)
        assert expected or key == "conversationOptimizer", key
        assert {n: env.get(n) for n in expected} == expected, key
    assert not [n for n in env if n.endswith("_ADDR") or n.endswith("_ADDRESS")]
    # The stores and the Anthropic key, by the names each backend reads.
    for name in (
        "TOLLGATE_CACHE_REDIS_URL",
        "TOLLGATE_BUDGET_LEDGER_DATABASE_URL",
        "TOLLGATE_SEMANTIC_CACHE_QDRANT_URL",
        "TOLLGATE_ORCHESTRATOR_PACING_REDIS_URL",
        "TOLLGATE_GATEWAY_SESSIONS_REDIS_URL",
        "ANTHROPIC_API_KEY",
    ):
        assert "secretKeyRef" in env[name], name
    assert env["TOLLGATE_GATEWAY_METRICS_PORT"] == "9090"
    pod = suite.get("Deployment", facts.resource_name("gateway"))["spec"]["template"]
    mounts = {m["name"]: m["mountPath"] for m in pod["spec"]["containers"][0]["volumeMounts"]}
    assert env["TOLLGATE_LEAD_SCORING_MODEL_FILE"].startswith(mounts["lead-model"])
    assert env["TOLLGATE_GATEWAY_FLAGS_FILE"].startswith(mounts["flags"])
    assert env["TOLLGATE_GATEWAY_TLS_CERT_FILE"].startswith(mounts["tls-gateway"])
    assert {"flag-overrides", "api-keys", "tmp"} <= set(mounts)
    # Settings read once at start roll the pods when they change, as they roll each backend's.
    annotations = pod["metadata"]["annotations"]
    assert {"checksum/store-url", "checksum/anthropic-key", "checksum/lead-model"} <= set(
        annotations
    )


def test_the_pod_keeps_the_gateways_probes_and_hardening(
    suite: Any, seven: Any, facts: Any
) -> None:
    gateway = facts.resource_name("gateway")
    one, separate = suite.container("Deployment", gateway), seven.container("Deployment", gateway)
    for probe in ("readinessProbe", "livenessProbe"):
        assert one[probe] == separate[probe]
    # Startup waits for every backend, the semantic cache's model load included.
    assert one["startupProbe"]["failureThreshold"] == 120
    assert one["securityContext"] == separate["securityContext"]
    assert one["securityContext"]["readOnlyRootFilesystem"] is True
    spec = suite.get("Deployment", gateway)["spec"]["template"]["spec"]
    assert spec["serviceAccountName"] == gateway
    # The ledger's schema: the migration Job and the pod's wait run the suite's image.
    (wait,) = spec["initContainers"]
    assert wait["command"][:4] == ["python", "-m", "tollgate.budget_ledger", "wait-for-schema"]
    assert wait["image"] == one["image"]
    (job,) = suite.of_kind("Job")
    migrate = job["spec"]["template"]["spec"]["containers"][0]
    assert migrate["command"] == ["python", "-m", "tollgate.budget_ledger", "migrate"]
    assert migrate["image"] == one["image"]


def test_no_internal_tls_since_no_call_crosses_the_network(suite: Any, facts: Any) -> None:
    env = suite.env("Deployment", facts.resource_name("gateway"))
    assert not [n for n in env if "TLS_CLIENT" in n or "TLS_CA_FILE" in n]
    assert not [s for s in suite.of_kind("Secret") if s["metadata"]["name"].endswith("-mtls")]


def test_network_policy_lets_the_one_pod_reach_every_store_and_anthropic(
    suite: Any, facts: Any
) -> None:
    policy = suite.get("NetworkPolicy", facts.resource_name("gateway"))
    ports = {p["port"] for rule in policy["spec"]["egress"] for p in rule["ports"]}
    assert {53, 443, 5432, 6379, 6333} <= ports
    for store in ("redis", "postgres", "qdrant"):
        store_policy = suite.get("NetworkPolicy", f"{facts.fullname}-{store}")
        admitted = [
            peer["podSelector"]["matchLabels"]["app.kubernetes.io/component"]
            for peer in store_policy["spec"]["ingress"][0]["from"]
        ]
        assert "gateway" in admitted, store


@pytest.mark.parametrize(
    "key", ["orchestrator", "conversationOptimizer", "cache", "semanticCache", "budgetLedger"]
)
def test_a_canary_is_refused(helm: Any, key: str) -> None:
    error = helm.render_error(
        "default",
        values=ON
        | {f"services.{key}.canary.enabled": True, f"services.{key}.canary.image.tag": "v2"},
    )
    assert f"singleProcess.enabled is true: services.{key}.canary.enabled cannot be" in error


def test_a_switched_off_service_is_refused(helm: Any) -> None:
    error = helm.render_error("default", values=ON | {"services.leadScoring.enabled": False})
    assert "services.leadScoring.enabled must be true" in error
