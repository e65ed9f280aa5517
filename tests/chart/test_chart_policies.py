"""Policies every rendered object must meet, for every value set: probes, resources, security
context, headless Services wired to the right ports, disruption budgets, least-privilege RBAC."""

from __future__ import annotations

from typing import Any

LONG_RUNNING = ("Deployment", "StatefulSet")


def all_containers(pod_spec: dict[str, Any]) -> list[dict[str, Any]]:
    return [*pod_spec.get("initContainers", []), *pod_spec["containers"]]


def label_of(obj: dict[str, Any]) -> str:
    return f"{obj['kind']}/{obj['metadata']['name']}"


def test_every_long_running_container_has_readiness_and_liveness_probes(rendered: Any) -> None:
    missing = [
        f"{label_of(owner)} {c['name']}: {probe}"
        for owner, spec in rendered.pod_specs()
        if owner["kind"] in LONG_RUNNING
        for c in spec["containers"]
        for probe in ("readinessProbe", "livenessProbe")
        if probe not in c
    ]
    assert missing == []


def test_tollgate_services_use_native_grpc_probes_on_their_grpc_port(
    rendered: Any, facts: Any
) -> None:
    deployments = rendered.of_kind("Deployment")
    assert deployments
    for deployment in deployments:
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        if any(e["name"].endswith("_TLS_CERT_FILE") for e in container["env"]):
            continue  # serves TLS: exec probes, held by test_chart_tls.py
        grpc_port = next(p["containerPort"] for p in container["ports"] if p["name"] == "grpc")
        for probe in ("startupProbe", "readinessProbe", "livenessProbe"):
            assert container[probe]["grpc"]["port"] == grpc_port, (deployment, probe)
        # Liveness asks for the overall status; readiness for the service's own name.
        assert container["livenessProbe"]["grpc"]["service"] == ""
        assert container["readinessProbe"]["grpc"]["service"].startswith("tollgate.v1.")
        assert container["readinessProbe"]["grpc"]["service"].endswith("Service")


def test_every_container_has_resources(rendered: Any) -> None:
    problems = []
    for owner, spec in rendered.pod_specs():
        for c in all_containers(spec):
            resources = c.get("resources", {})
            requests, limits = resources.get("requests", {}), resources.get("limits", {})
            if not {"cpu", "memory"} <= set(requests) or "memory" not in limits:
                problems.append(f"{label_of(owner)} {c['name']}: {resources}")
    assert problems == []


def test_every_container_runs_as_non_root_on_a_read_only_root_filesystem(rendered: Any) -> None:
    problems = []
    for owner, spec in rendered.pod_specs():
        pod = spec.get("securityContext", {})
        if pod.get("runAsNonRoot") is not True or pod.get("seccompProfile", {}).get("type") != (
            "RuntimeDefault"
        ):
            problems.append(f"{label_of(owner)}: pod securityContext {pod}")
        for c in all_containers(spec):
            sc = c.get("securityContext", {})
            expected = {
                "runAsNonRoot": True,
                "readOnlyRootFilesystem": True,
                "allowPrivilegeEscalation": False,
            }
            if any(sc.get(k) is not v for k, v in expected.items()):
                problems.append(f"{label_of(owner)} {c['name']}: {sc}")
            if sc.get("capabilities", {}).get("drop") != ["ALL"]:
                problems.append(f"{label_of(owner)} {c['name']}: capabilities {sc}")
            if sc.get("runAsUser", 1) == 0:
                problems.append(f"{label_of(owner)} {c['name']}: runs as uid 0")
    assert problems == []


def test_writable_paths_are_volumes(rendered: Any) -> None:
    """With a read-only root filesystem, /tmp must be a volume in every pod."""
    for owner, spec in rendered.pod_specs():
        for c in spec["containers"]:
            mounts = {m["mountPath"] for m in c.get("volumeMounts", [])}
            assert "/tmp" in mounts, f"{label_of(owner)} {c['name']} has no writable /tmp"


def test_pods_get_no_api_token_and_no_service_links_except_the_gateway_token(
    rendered: Any, facts: Any
) -> None:
    gateway = facts.resource_name("gateway")
    for owner, spec in rendered.pod_specs():
        assert spec.get("enableServiceLinks") is False, label_of(owner)
        wants_token = owner["kind"] == "Deployment" and owner["metadata"]["name"] == gateway
        assert spec.get("automountServiceAccountToken") is wants_token, label_of(owner)


def test_every_service_has_a_headless_service_matching_its_pods_and_port(
    rendered: Any, facts: Any
) -> None:
    for key, (_module, port) in facts.services.items():
        name = facts.resource_name(key)
        deployment = rendered.get("Deployment", name)
        service = rendered.get("Service", name)
        pod_labels = deployment["spec"]["template"]["metadata"]["labels"]
        selector = service["spec"]["selector"]
        assert selector.items() <= pod_labels.items(), name
        # A backend's Service serves its stable track only (the gateway weighs the canary);
        # the gateway's public Service fronts both of its tracks.
        assert selector.get("track") == (None if key == "gateway" else "stable")
        grpc = next(p for p in service["spec"]["ports"] if p["name"] == "grpc")
        assert grpc["port"] == port
        container = deployment["spec"]["template"]["spec"]["containers"][0]
        assert {"name": "grpc", "containerPort": port, "protocol": "TCP"} in container["ports"]
        if key != "gateway":
            assert service["spec"].get("clusterIP") == "None", f"{name} must be headless"


def test_services_get_the_documented_environment(rendered: Any, facts: Any) -> None:
    for key, (module, port) in facts.services.items():
        env = rendered.env("Deployment", facts.resource_name(key))
        prefix = f"TOLLGATE_{module.upper()}_"
        assert env[f"{prefix}PORT"] == str(port)
        assert env[f"{prefix}HOST"] == "0.0.0.0"
        assert env[f"{prefix}METRICS_PORT"] == "9090"
        assert env[f"{prefix}LOG_LEVEL"] in {"DEBUG", "INFO", "WARNING", "ERROR", "CRITICAL"}
        assert float(env[f"{prefix}SHUTDOWN_GRACE_SECONDS"]) >= 0
        container = rendered.container("Deployment", facts.resource_name(key))
        assert container["command"] == ["python", "-m", f"tollgate.{module}"]


def test_gateway_reaches_every_backend_through_its_headless_service(
    rendered: Any, facts: Any
) -> None:
    env = rendered.env("Deployment", facts.resource_name("gateway"))
    for key, (module, port) in facts.services.items():
        if key == "gateway":
            continue
        address = env[f"TOLLGATE_GATEWAY_{module.upper()}_ADDR"]
        name = facts.resource_name(key)
        assert address == f"dns:///{name}.{facts.namespace}.svc.cluster.local:{port}"
        assert rendered.get("Service", name)["spec"]["clusterIP"] == "None"


def test_pods_outlive_their_drain(rendered: Any) -> None:
    """terminationGracePeriodSeconds covers the preStop sleep plus the service's own drain."""
    for deployment in rendered.of_kind("Deployment"):
        spec = deployment["spec"]["template"]["spec"]
        container = spec["containers"][0]
        env = {e["name"]: e.get("value") for e in container["env"]}
        grace = next(float(v) for k, v in env.items() if k.endswith("_SHUTDOWN_GRACE_SECONDS"))
        sleep = int(container["lifecycle"]["preStop"]["exec"]["command"][1])
        assert spec["terminationGracePeriodSeconds"] > grace + sleep
        assert deployment["spec"]["strategy"]["rollingUpdate"]["maxUnavailable"] == 0


def test_every_service_has_a_disruption_budget_covering_its_pods(
    rendered: Any, facts: Any, value_set: str
) -> None:
    for key in facts.services:
        name = facts.resource_name(key)
        pdb = rendered.find("PodDisruptionBudget", name)
        if value_set == "external-stores" and key == "leadScoring":
            assert pdb is None  # switched off in that value set
            continue
        assert pdb is not None, name
        pod_labels = rendered.get("Deployment", name)["spec"]["template"]["metadata"]["labels"]
        assert pdb["spec"]["selector"]["matchLabels"].items() <= pod_labels.items()
        # The budget spans tracks: stable and canary pods of a service count together.
        assert "track" not in pdb["spec"]["selector"]["matchLabels"]


def test_gateway_may_read_only_its_flags_configmaps(rendered: Any, facts: Any) -> None:
    gateway = facts.resource_name("gateway")
    flags = f"{facts.fullname}-flags"
    overrides = f"{facts.fullname}-flag-overrides"
    role = rendered.get("Role", f"{gateway}-flags")
    assert role["rules"] == [
        {
            "apiGroups": [""],
            "resources": ["configmaps"],
            "resourceNames": [flags, overrides],
            "verbs": ["get", "list", "watch"],
        }
    ]
    binding = rendered.get("RoleBinding", f"{gateway}-flags")
    assert binding["roleRef"] == {
        "apiGroup": "rbac.authorization.k8s.io",
        "kind": "Role",
        "name": role["metadata"]["name"],
    }
    assert binding["subjects"] == [
        {"kind": "ServiceAccount", "name": gateway, "namespace": facts.namespace}
    ]
    deployment = rendered.get("Deployment", gateway)
    assert deployment["spec"]["template"]["spec"]["serviceAccountName"] == gateway
    env = rendered.env("Deployment", gateway)
    assert env["TOLLGATE_GATEWAY_FLAGS_CONFIGMAP"] == flags
    assert env["TOLLGATE_GATEWAY_FLAGS_OVERRIDES_CONFIGMAP"] == overrides
    assert env["TOLLGATE_GATEWAY_NAMESPACE"] == {"fieldRef": {"fieldPath": "metadata.namespace"}}


def test_without_the_watch_the_gateway_has_no_token_and_no_role(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values={"services.gateway.flagsWatch": False})
    gateway = facts.resource_name("gateway")
    assert rendered.of_kind("Role") == []
    assert "TOLLGATE_GATEWAY_FLAGS_CONFIGMAP" not in rendered.env("Deployment", gateway)
    spec = rendered.get("Deployment", gateway)["spec"]["template"]["spec"]
    assert spec["automountServiceAccountToken"] is False
    # The mounted file still carries the flags.
    assert rendered.env("Deployment", gateway)["TOLLGATE_GATEWAY_FLAGS_FILE"] == (
        "/etc/tollgate/flags/flags.yaml"
    )


def test_flags_configmap_is_mounted_as_a_directory_so_updates_reach_the_gateway(
    default_render: Any, facts: Any
) -> None:
    gateway = facts.resource_name("gateway")
    spec = default_render.get("Deployment", gateway)["spec"]["template"]["spec"]
    volume = next(v for v in spec["volumes"] if v["name"] == "flags")
    assert volume["configMap"]["name"] == f"{facts.fullname}-flags"
    mount = next(m for m in spec["containers"][0]["volumeMounts"] if m["name"] == "flags")
    assert "subPath" not in mount  # subPath mounts never see ConfigMap updates
    assert mount["mountPath"] == "/etc/tollgate/flags"


def test_api_keys_render_into_a_secret_the_gateway_key_ring_reads(
    helm: Any, facts: Any, tmp_path: Any
) -> None:
    import base64

    from tollgate.common.auth import KeyRing, hash_api_key

    keys = [
        {"id": "crm", "tenant": "acme", "sha256": hash_api_key("tg_live_crm_secret")},
        {
            "id": "ops",
            "tenant": "ops",
            "sha256": hash_api_key("tg_live_ops_secret"),
            "role": "operator",
        },
    ]
    rendered = helm.render("default", values={"services.gateway.apiKeys.keys": keys})
    secret = rendered.get("Secret", f"{facts.fullname}-api-keys")
    keys_file = tmp_path / "keys.yaml"
    keys_file.write_bytes(base64.b64decode(secret["data"]["keys.yaml"]))
    ring = KeyRing.from_file(keys_file)
    assert len(ring) == 2
    assert ring.authenticate("Bearer tg_live_crm_secret").tenant == "acme"
    assert ring.authenticate("Bearer tg_live_ops_secret").operator is True
    # The gateway reloads its keys when the mounted Secret changes: a key change (a revocation)
    # needs no restart, so it does not change the gateway's pod template.
    gateway = facts.resource_name("gateway")
    before = helm.render("default")
    assert (
        before.get("Deployment", gateway)["spec"]["template"]
        == rendered.get("Deployment", gateway)["spec"]["template"]
    )


def test_images_default_to_the_chart_version_and_honour_the_registry(
    default_render: Any, helm: Any, facts: Any
) -> None:
    for key, (module, _) in facts.services.items():
        image = default_render.container("Deployment", facts.resource_name(key))["image"]
        assert image == f"tollgate/{module.replace('_', '-')}:0.1.0"
    external = helm.render("external-stores")
    image = external.container("Deployment", facts.resource_name("cache"))["image"]
    assert image == "registry.example.com/platform/tollgate/cache:0.1.0"


def test_a_service_setting_overrides_the_default_block_without_losing_siblings(
    helm: Any, facts: Any
) -> None:
    rendered = helm.render(
        "default",
        values={
            "services.cache.podDisruptionBudget": {"enabled": False},
            "services.orchestrator.replicas": 5,
            "services.orchestrator.env": {"EXTRA_SETTING": "on"},
            "default.env": {"SHARED_SETTING": "1"},
        },
    )
    assert rendered.find("PodDisruptionBudget", facts.resource_name("cache")) is None
    orchestrator = facts.resource_name("orchestrator")
    assert rendered.get("Deployment", orchestrator)["spec"]["replicas"] == 5
    env = rendered.env("Deployment", orchestrator)
    assert env["EXTRA_SETTING"] == "on"
    assert env["SHARED_SETTING"] == "1"
    # A false override still wins over a true default, and the other services keep theirs.
    assert rendered.get("PodDisruptionBudget", facts.resource_name("gateway"))["spec"] == {
        "maxUnavailable": 1,
        "unhealthyPodEvictionPolicy": "AlwaysAllow",
        "selector": rendered.get("PodDisruptionBudget", facts.resource_name("gateway"))["spec"][
            "selector"
        ],
    }


def test_disabled_service_renders_nothing_and_the_gateway_gets_no_address(
    helm: Any, facts: Any
) -> None:
    rendered = helm.render("default", values={"services.leadScoring.enabled": False})
    name = facts.resource_name("leadScoring")
    for kind in ("Deployment", "Service", "ServiceAccount", "PodDisruptionBudget"):
        assert rendered.find(kind, name) is None, kind
    env = rendered.env("Deployment", facts.resource_name("gateway"))
    assert "TOLLGATE_GATEWAY_LEAD_SCORING_ADDR" not in env
    assert "TOLLGATE_GATEWAY_CACHE_ADDR" in env


def test_autoscaled_deployments_leave_replicas_to_the_autoscaler(helm: Any, facts: Any) -> None:
    rendered = helm.render("external-stores")
    for key in ("gateway", "orchestrator"):
        name = facts.resource_name(key)
        hpa = rendered.get("HorizontalPodAutoscaler", name)
        assert hpa["spec"]["scaleTargetRef"] == {
            "apiVersion": "apps/v1",
            "kind": "Deployment",
            "name": name,
        }
        assert "replicas" not in rendered.get("Deployment", name)["spec"]
    assert rendered.get("Deployment", facts.resource_name("cache"))["spec"]["replicas"] == 3
    error = helm.render_error(
        "default",
        values={
            "services.cache.autoscaling": {"enabled": True, "minReplicas": 5, "maxReplicas": 2}
        },
    )
    assert "minReplicas (5) is above maxReplicas (2)" in error


def test_gateway_service_type_and_headless_choice(helm: Any, facts: Any) -> None:
    gateway = facts.resource_name("gateway")
    default = helm.render("default").get("Service", gateway)["spec"]
    assert (default["type"], "clusterIP" in default) == ("ClusterIP", False)
    headless = helm.render("default", values={"services.gateway.service.headless": True})
    assert headless.get("Service", gateway)["spec"]["clusterIP"] == "None"
    external = helm.render("external-stores").get("Service", gateway)
    assert external["spec"]["type"] == "LoadBalancer"
    assert external["metadata"]["annotations"] == {
        "service.beta.kubernetes.io/aws-load-balancer-internal": "true"
    }
    error = helm.render_error(
        "default",
        values={"services.gateway.service": {"type": "LoadBalancer", "headless": True}},
    )
    assert "a headless Service must have type ClusterIP, not LoadBalancer" in error


def test_min_available_replaces_the_default_max_unavailable(helm: Any, facts: Any) -> None:
    rendered = helm.render("external-stores")
    spec = rendered.get("PodDisruptionBudget", facts.resource_name("budgetLedger"))["spec"]
    assert spec["minAvailable"] == 2
    assert "maxUnavailable" not in spec
