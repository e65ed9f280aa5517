"""Stores bundled for development or external for production; the ledger's migration hook; the
NetworkPolicies that keep the services behind the gateway; the `helm test` health check."""

from __future__ import annotations

import base64
from typing import Any
from urllib.parse import urlsplit

import pytest

STORES = {"redis": "cache", "postgres": "budgetLedger", "qdrant": "semanticCache"}
URL_ENV = {
    "cache": "TOLLGATE_CACHE_REDIS_URL",
    "budgetLedger": "TOLLGATE_BUDGET_LEDGER_DATABASE_URL",
    "semanticCache": "TOLLGATE_SEMANTIC_CACHE_QDRANT_URL",
}


def secret_value(rendered: Any, name: str, key: str) -> str:
    return base64.b64decode(rendered.get("Secret", name)["data"][key]).decode()


def test_bundled_stores_are_statefulsets_the_services_point_at(
    default_render: Any, facts: Any
) -> None:
    for store, user in STORES.items():
        name = f"{facts.fullname}-{store}"
        statefulset = default_render.get("StatefulSet", name)
        assert statefulset["spec"]["replicas"] == 1
        service = default_render.get("Service", name)
        assert service["spec"]["clusterIP"] == "None"
        assert statefulset["spec"]["serviceName"] == name
        ref = default_render.env("Deployment", facts.resource_name(user))[URL_ENV[user]]
        assert ref == {"secretKeyRef": {"name": f"{facts.fullname}-stores", "key": f"{store}-url"}}
        url = urlsplit(secret_value(default_render, f"{facts.fullname}-stores", f"{store}-url"))
        assert url.hostname == f"{name}.{facts.namespace}.svc.cluster.local"
        service_ports = {p["port"] for p in service["spec"]["ports"]}
        assert url.port in service_ports


def test_bundled_postgres_credentials_agree_between_server_and_ledger(
    default_render: Any, facts: Any, chart_values: dict[str, Any]
) -> None:
    stores = f"{facts.fullname}-stores"
    dsn = urlsplit(secret_value(default_render, stores, "postgres-url"))
    auth = chart_values["postgres"]["auth"]
    assert (dsn.scheme, dsn.username, dsn.password, dsn.path) == (
        "postgresql",
        auth["username"],
        auth["password"],
        f"/{auth['database']}",
    )
    assert secret_value(default_render, stores, "postgres-password") == auth["password"]
    env = default_render.env("StatefulSet", f"{facts.fullname}-postgres")
    assert env["POSTGRES_USER"] == auth["username"]
    assert env["POSTGRES_DB"] == auth["database"]
    assert env["POSTGRES_PASSWORD"] == {
        "secretKeyRef": {"name": stores, "key": "postgres-password"}
    }


def test_special_characters_in_the_bundled_password_are_escaped_in_the_dsn(
    helm: Any, facts: Any
) -> None:
    rendered = helm.render("default", values={"postgres.auth.password": "p@ss:w/rd?#"})
    dsn = secret_value(rendered, f"{facts.fullname}-stores", "postgres-url")
    assert (
        urlsplit(dsn).hostname == f"{facts.fullname}-postgres.{facts.namespace}.svc.cluster.local"
    )
    assert "p%40ss%3Aw%2Frd%3F%23" in dsn


def test_external_stores_come_from_urls_or_existing_secrets(helm: Any, facts: Any) -> None:
    rendered = helm.render("external-stores")
    assert rendered.of_kind("StatefulSet") == []
    env = {
        user: rendered.env("Deployment", facts.resource_name(user))[URL_ENV[user]]
        for user in URL_ENV
    }
    assert env["cache"] == {
        "secretKeyRef": {"name": f"{facts.fullname}-stores", "key": "redis-url"}
    }
    assert env["budgetLedger"] == {"secretKeyRef": {"name": "tollgate-ledger-db", "key": "dsn"}}
    assert env["semanticCache"] == {"secretKeyRef": {"name": "tollgate-qdrant", "key": "url"}}
    semantic = rendered.env("Deployment", facts.resource_name("semanticCache"))
    assert semantic["TOLLGATE_SEMANTIC_CACHE_QDRANT_API_KEY"] == {
        "secretKeyRef": {"name": "tollgate-qdrant", "key": "api-key"}
    }
    stores = rendered.get("Secret", f"{facts.fullname}-stores")
    assert set(stores["data"]) == {"redis-url"}
    assert secret_value(rendered, f"{facts.fullname}-stores", "redis-url") == (
        "rediss://cache.example.internal:6380/0"
    )


@pytest.mark.parametrize(("store", "user"), list(STORES.items()))
def test_an_external_store_without_an_address_is_refused_clearly(
    helm: Any, store: str, user: str
) -> None:
    error = helm.render_error("default", values={f"{store}.enabled": False})
    assert f"{store}.enabled is false" in error
    assert f"set {store}.external.url or {store}.external.existingSecret" in error


def test_a_store_is_not_bundled_when_its_service_is_off(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values={"services.semanticCache.enabled": False})
    assert rendered.find("StatefulSet", f"{facts.fullname}-qdrant") is None
    assert rendered.find("StatefulSet", f"{facts.fullname}-redis") is not None


def test_anthropic_key_comes_from_a_secret(helm: Any, facts: Any) -> None:
    orchestrator = facts.resource_name("orchestrator")
    external = helm.render("external-stores")
    assert external.env("Deployment", orchestrator)["ANTHROPIC_API_KEY"] == {
        "secretKeyRef": {"name": "anthropic", "key": "api-key"}
    }
    inline = helm.render(
        "default",
        values={
            "services.orchestrator.anthropic.apiKey": "sk-ant-test",
            "services.orchestrator.anthropic.baseUrl": "http://emulator:8080",
        },
    )
    env = inline.env("Deployment", orchestrator)
    assert env["ANTHROPIC_API_KEY"] == {
        "secretKeyRef": {"name": f"{facts.fullname}-anthropic", "key": "api-key"}
    }
    assert secret_value(inline, f"{facts.fullname}-anthropic", "api-key") == "sk-ant-test"
    assert env["TOLLGATE_ORCHESTRATOR_ANTHROPIC_BASE_URL"] == "http://emulator:8080"
    # No key configured: no variable and no Secret (NOTES.txt warns instead).
    default = helm.render("default")
    assert "ANTHROPIC_API_KEY" not in default.env("Deployment", orchestrator)
    assert default.find("Secret", f"{facts.fullname}-anthropic") is None


def test_semantic_cache_loads_the_model_shipped_in_its_package_unless_told(
    default_render: Any, helm: Any, facts: Any
) -> None:
    name = facts.resource_name("semanticCache")
    assert "TOLLGATE_SEMANTIC_CACHE_MODEL_PATH" not in default_render.env("Deployment", name)
    mounted = helm.render(
        "default", values={"services": {"semanticCache": {"modelPath": "/models/x"}}}
    )
    assert mounted.env("Deployment", name)["TOLLGATE_SEMANTIC_CACHE_MODEL_PATH"] == "/models/x"


def migration(rendered: Any, facts: Any) -> dict[str, Any]:
    prefix = f"{facts.resource_name('budgetLedger')}-migrate-"
    jobs = [job for job in rendered.of_kind("Job") if job["metadata"]["name"].startswith(prefix)]
    assert len(jobs) == 1
    return dict(jobs[0])


def test_migration_job_is_an_ordinary_job_reading_the_release_dsn(
    default_render: Any, facts: Any
) -> None:
    job = migration(default_render, facts)
    # Not a hook: nothing in `helm upgrade` waits behind it, and `helm install --wait` finishes.
    assert "helm.sh/hook" not in job["metadata"].get("annotations", {})
    pod = job["spec"]["template"]["spec"]
    assert pod["restartPolicy"] == "Never"
    assert pod["containers"][0]["command"] == ["python", "-m", "tollgate.budget_ledger", "migrate"]
    assert pod["initContainers"][0]["name"] == "wait-for-postgres"
    dsn_ref = {"secretKeyRef": {"name": f"{facts.fullname}-stores", "key": "postgres-url"}}
    env = {e["name"]: e.get("valueFrom") for e in pod["containers"][0]["env"]}
    assert env["TOLLGATE_BUDGET_LEDGER_DATABASE_URL"] == dsn_ref


def test_migrations_run_only_when_the_image_changes_never_on_a_flag_change(
    helm: Any, facts: Any
) -> None:
    before = migration(helm.render("default"), facts)["metadata"]["name"]
    flags_only = helm.render(
        "default", values={"flags.semanticCache": {"enabled": True, "rolloutPercent": 50}}
    )
    assert migration(flags_only, facts)["metadata"]["name"] == before
    fail_open = helm.render(
        "default",
        values={"flags.budgetEnforcement": {"enabled": True, "parameters": {"failMode": "open"}}},
    )
    assert migration(fail_open, facts)["metadata"]["name"] == before
    new_image = helm.render("default", values={"services.budgetLedger.image.tag": "0.2.0"})
    assert migration(new_image, facts)["metadata"]["name"] != before


def test_ledger_pods_wait_for_the_schema_instead_of_crash_looping(
    default_render: Any, facts: Any
) -> None:
    pod = default_render.get("Deployment", facts.resource_name("budgetLedger"))["spec"]["template"]
    init = pod["spec"]["initContainers"]
    assert [c["name"] for c in init] == ["wait-for-schema"]
    assert init[0]["command"][:4] == ["python", "-m", "tollgate.budget_ledger", "wait-for-schema"]
    env = {e["name"]: e.get("valueFrom") for e in init[0]["env"]}
    assert env["TOLLGATE_BUDGET_LEDGER_DATABASE_URL"] == {
        "secretKeyRef": {"name": f"{facts.fullname}-stores", "key": "postgres-url"}
    }


def test_migration_job_reads_an_external_postgres_secret(helm: Any, facts: Any) -> None:
    job = migration(helm.render("external-stores"), facts)
    env = {
        e["name"]: e.get("valueFrom")
        for e in job["spec"]["template"]["spec"]["containers"][0]["env"]
    }
    assert env["TOLLGATE_BUDGET_LEDGER_DATABASE_URL"] == {
        "secretKeyRef": {"name": "tollgate-ledger-db", "key": "dsn"}
    }


def test_helm_test_pod_checks_the_gateway_health(default_render: Any, facts: Any) -> None:
    pods = default_render.of_kind("Pod")
    assert len(pods) == 1
    pod = pods[0]
    assert pod["metadata"]["annotations"]["helm.sh/hook"] == "test"
    container = pod["spec"]["containers"][0]
    assert container["command"][:2] == ["python", "-c"]
    assert "health_pb2_grpc.HealthStub" in container["command"][2]
    gateway = facts.resource_name("gateway")
    target, *names = container["command"][3:]
    assert target == f"{gateway}.{facts.namespace}.svc.cluster.local:50051"
    assert names == ["", "tollgate.v1.GatewayService"]
    assert container["image"] == default_render.container("Deployment", gateway)["image"]


def test_helm_test_script_is_valid_python(default_render: Any) -> None:
    script = default_render.of_kind("Pod")[0]["spec"]["containers"][0]["command"][2]
    compile(script, "helm-test", "exec")
    job = default_render.of_kind("Job")[0]
    compile(job["spec"]["template"]["spec"]["initContainers"][0]["command"][2], "wait", "exec")


def test_network_policies_keep_services_behind_the_gateway(helm: Any, facts: Any) -> None:
    assert helm.render("default").of_kind("NetworkPolicy") == []
    rendered = helm.render("external-stores")
    gateway_pods = {
        "app.kubernetes.io/name": "tollgate",
        "app.kubernetes.io/instance": facts.release,
        "app.kubernetes.io/component": "gateway",
    }
    for key in facts.services:
        if key == "gateway":
            continue
        policy = rendered.get("NetworkPolicy", facts.resource_name(key))
        grpc_rule, metrics_rule = policy["spec"]["ingress"]
        assert grpc_rule["ports"] == [{"port": "grpc", "protocol": "TCP"}]
        # The orchestrator also admits the services that ask Claude through it
        # (test_chart_wiring checks that list).
        expected = grpc_rule["from"][:1] if key == "orchestrator" else grpc_rule["from"]
        assert expected == [{"podSelector": {"matchLabels": gateway_pods}}]
        assert metrics_rule["ports"] == [{"port": "metrics", "protocol": "TCP"}]
        assert metrics_rule["from"] == [
            {"namespaceSelector": {"matchLabels": {"kubernetes.io/metadata.name": "monitoring"}}}
        ]
        # The policy covers both tracks of the service.
        assert "track" not in policy["spec"]["podSelector"]["matchLabels"]
    gateway = rendered.get("NetworkPolicy", facts.resource_name("gateway"))
    callers = gateway["spec"]["ingress"][0]["from"]
    assert {"namespaceSelector": {"matchLabels": {"tollgate.io/client": "true"}}} in callers
    assert any(
        c.get("podSelector", {}).get("matchLabels", {}).get("app.kubernetes.io/component")
        == "health-test"
        for c in callers
    )


def test_network_policies_let_only_each_store_s_service_in(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values={"networkPolicy.enabled": True})
    expected = {
        # The orchestrator paces its replicas through the same Redis (services.orchestrator.pacing).
        "redis": ["cache", "orchestrator"],
        "postgres": ["budget-ledger", "budget-ledger-migrate"],
        "qdrant": ["semantic-cache"],
    }
    for store, components in expected.items():
        policy = rendered.get("NetworkPolicy", f"{facts.fullname}-{store}")
        peers = policy["spec"]["ingress"][0]["from"]
        assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers] == (
            components
        )
    job_labels = rendered.of_kind("Job")[0]["spec"]["template"]["metadata"]["labels"]
    assert job_labels["app.kubernetes.io/component"] == "budget-ledger-migrate"
    # With no gatewayFrom, anyone may call the gateway.
    gateway = rendered.get("NetworkPolicy", facts.resource_name("gateway"))
    assert "from" not in gateway["spec"]["ingress"][0]


def test_rollout_operator_role_reads_helms_flags_and_edits_only_the_overrides(
    helm: Any, facts: Any
) -> None:
    rendered = helm.render("external-stores")
    role = rendered.get("Role", f"{facts.fullname}-rollout-operator")
    assert role["rules"] == [
        {"apiGroups": ["apps"], "resources": ["deployments"], "verbs": ["get", "list", "watch"]},
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [f"{facts.fullname}-flags"],
            "verbs": ["get"],
        },
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [f"{facts.fullname}-flag-overrides"],
            "verbs": ["get", "patch", "update", "delete"],
        },
        # Kubernetes cannot limit `create` to a name.
        {"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create"]},
    ]
    binding = rendered.get("RoleBinding", f"{facts.fullname}-rollout-operator")
    assert binding["subjects"] == [
        {"kind": "Group", "name": "platform-sre", "apiGroup": "rbac.authorization.k8s.io"}
    ]
    assert helm.render("default").find("Role", f"{facts.fullname}-rollout-operator") is None


def test_the_orchestrator_paces_through_the_caches_redis(helm: Any, facts: Any) -> None:
    stores = f"{facts.fullname}-stores"
    rendered = helm.render(
        "default", values={"networkPolicy.enabled": True, "networkPolicy.egress.enabled": True}
    )
    env = rendered.env("Deployment", facts.resource_name("orchestrator"))
    assert env["TOLLGATE_ORCHESTRATOR_PACING_REDIS_URL"] == {
        "secretKeyRef": {"name": stores, "key": "redis-url"}
    }
    assert env["TOLLGATE_ORCHESTRATOR_PACING_KEY_PREFIX"] == "tg"
    assert "TOLLGATE_ORCHESTRATOR_PACING_ENABLED" not in env
    egress = rendered.get("NetworkPolicy", facts.resource_name("orchestrator"))["spec"]["egress"]
    assert any({"port": 6379, "protocol": "TCP"} in rule.get("ports", []) for rule in egress)
    # With the cache off, the bundled Redis stays for pacing alone.
    no_cache = helm.render("default", values={"services.cache.enabled": False})
    assert no_cache.find("StatefulSet", f"{facts.fullname}-redis") is not None
    assert "redis-url" in no_cache.get("Secret", stores)["data"]


def test_pacing_off_leaves_the_orchestrator_without_redis(helm: Any, facts: Any) -> None:
    values = {"services.orchestrator.pacing.enabled": False, "networkPolicy.enabled": True}
    rendered = helm.render("default", values=values)
    env = rendered.env("Deployment", facts.resource_name("orchestrator"))
    assert env["TOLLGATE_ORCHESTRATOR_PACING_ENABLED"] == "false"
    assert "TOLLGATE_ORCHESTRATOR_PACING_REDIS_URL" not in env
    policy = rendered.get("NetworkPolicy", f"{facts.fullname}-redis")
    peers = policy["spec"]["ingress"][0]["from"]
    assert [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers] == [
        "cache"
    ]
