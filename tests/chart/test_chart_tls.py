"""TLS values: the gateway's TLS (`tls.gateway`) and mutual TLS between services (`tls.internal`)
render the services' TLS settings, read-only Secret mounts and native probes on a plaintext
health-only port; with TLS off the chart renders exactly what it rendered before."""

from __future__ import annotations

import base64
import json
from pathlib import Path
from typing import Any

import grpc
import pytest

from tollgate.common.settings import ServiceSettings

GATEWAY_DIR = "/etc/tollgate/tls/gateway"
INTERNAL_DIR = "/etc/tollgate/tls/internal"
GATEWAY_SECRET = "tollgate-gateway-tls"
INTERNAL_SECRET = "tollgate-internal-tls"
SERVES_MTLS = {
    "TLS_CERT_FILE": f"{INTERNAL_DIR}/tls.crt",
    "TLS_KEY_FILE": f"{INTERNAL_DIR}/tls.key",
    "TLS_CLIENT_CA_FILE": f"{INTERNAL_DIR}/ca.crt",
}
CALLS_MTLS = {
    "TLS_CA_FILE": f"{INTERNAL_DIR}/ca.crt",
    "TLS_CLIENT_CERT_FILE": f"{INTERNAL_DIR}/tls.crt",
    "TLS_CLIENT_KEY_FILE": f"{INTERNAL_DIR}/tls.key",
}
SERVES_GATEWAY_TLS = {
    "TLS_CERT_FILE": f"{GATEWAY_DIR}/tls.crt",
    "TLS_KEY_FILE": f"{GATEWAY_DIR}/tls.key",
}
PROBES = ("startupProbe", "readinessProbe", "livenessProbe")


def tls(gateway: bool, internal: bool) -> dict[str, Any]:
    return {
        "tls": {
            "gateway": {"enabled": gateway, "secretName": GATEWAY_SECRET},
            "internal": {"enabled": internal, "secretName": INTERNAL_SECRET},
        }
    }


def prefix_of(key: str) -> str:
    """services.conversationOptimizer -> TOLLGATE_CONVERSATION_OPTIMIZER_ (the settings' prefix)."""
    return "TOLLGATE_" + "".join(f"_{c}" if c.isupper() else c.upper() for c in key) + "_"


def tls_env(rendered: Any, name: str, key: str) -> dict[str, str]:
    """The container's TLS settings, without the service's prefix."""
    prefix = prefix_of(key)
    return {
        k.removeprefix(prefix): v
        for k, v in rendered.env("Deployment", name).items()
        if k.startswith(f"{prefix}TLS_")
    }


def tls_mounts(container: dict[str, Any]) -> dict[str, tuple[str, bool]]:
    return {
        m["name"]: (m["mountPath"], m.get("readOnly", False))
        for m in container["volumeMounts"]
        if m["name"].startswith("tls-")
    }


def tls_volumes(pod_spec: dict[str, Any]) -> dict[str, str]:
    return {v["name"]: v["secret"]["secretName"] for v in pod_spec["volumes"] if "tls" in v["name"]}


def test_tls_settings_the_chart_sets_are_settings_the_services_read(facts: Any) -> None:
    fields = set(ServiceSettings.model_fields)
    for name in {*SERVES_MTLS, *CALLS_MTLS, *SERVES_GATEWAY_TLS}:
        assert name.lower() in fields
    assert "health_port" in fields


def test_with_tls_on_every_service_serves_and_calls_over_tls(helm: Any, facts: Any) -> None:
    rendered = helm.render("tls-on")
    for key in facts.services:
        name = facts.resource_name(key)
        env = tls_env(rendered, name, key)
        if key == "gateway":
            # Applications authenticate with API keys: TLS without a client CA.
            assert env == {**SERVES_GATEWAY_TLS, **CALLS_MTLS}
        else:
            assert env == {**SERVES_MTLS, **CALLS_MTLS}


def test_with_tls_on_every_container_mounts_its_secrets_read_only(helm: Any, facts: Any) -> None:
    rendered = helm.render("tls-on")
    for key in facts.services:
        deployment = rendered.get("Deployment", facts.resource_name(key))
        pod = deployment["spec"]["template"]["spec"]
        expected_mounts = {"tls-internal": (INTERNAL_DIR, True)}
        expected_volumes = {"tls-internal": INTERNAL_SECRET}
        if key == "gateway":
            expected_mounts["tls-gateway"] = (GATEWAY_DIR, True)
            expected_volumes["tls-gateway"] = GATEWAY_SECRET
        assert tls_mounts(pod["containers"][0]) == expected_mounts
        assert tls_volumes(pod) == expected_volumes
        # Group-readable for the pod's fsGroup only; the app user is not root.
        for volume in pod["volumes"]:
            if volume["name"].startswith("tls-"):
                assert volume["secret"]["defaultMode"] == 0o440


def test_with_tls_on_every_probe_is_native_on_the_plaintext_health_port(
    helm: Any, facts: Any
) -> None:
    rendered = helm.render("tls-on")
    for key in facts.services:
        name = facts.resource_name(key)
        container = rendered.container("Deployment", name)
        health = next(p for p in container["ports"] if p["name"] == "health")
        env = {e["name"]: e.get("value") for e in container["env"]}
        assert env[f"{prefix_of(key)}HEALTH_PORT"] == str(health["containerPort"])
        for probe in PROBES:
            handler = container[probe]
            assert "exec" not in handler  # no Python process per probe
            assert handler["grpc"]["port"] == health["containerPort"]
            expected_service = (
                f"tollgate.v1.{key[0].upper()}{key[1:]}Service" if probe == "readinessProbe" else ""
            )
            assert handler["grpc"]["service"] == expected_service
        # Timings stay those of the values.
        assert container["readinessProbe"]["periodSeconds"] == 5
        assert container["livenessProbe"]["timeoutSeconds"] == 3


def test_gateway_tls_alone_leaves_the_backends_in_plaintext(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values=tls(gateway=True, internal=False))
    gateway = facts.resource_name("gateway")
    assert tls_env(rendered, gateway, "gateway") == SERVES_GATEWAY_TLS
    assert rendered.container("Deployment", gateway)["livenessProbe"]["grpc"]["port"] == 8086
    for key in facts.services:
        if key == "gateway":
            continue
        name = facts.resource_name(key)
        assert tls_env(rendered, name, key) == {}
        container = rendered.container("Deployment", name)
        assert tls_mounts(container) == {}
        assert all("grpc" in container[probe] for probe in PROBES)


def test_internal_mtls_alone_leaves_the_gateway_serving_plaintext(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values=tls(gateway=False, internal=True))
    gateway = facts.resource_name("gateway")
    assert tls_env(rendered, gateway, "gateway") == CALLS_MTLS
    container = rendered.container("Deployment", gateway)
    assert all(container[probe]["grpc"]["port"] == 50051 for probe in PROBES)
    assert tls_mounts(container) == {"tls-internal": (INTERNAL_DIR, True)}
    cache = facts.resource_name("cache")
    assert tls_env(rendered, cache, "cache") == {**SERVES_MTLS, **CALLS_MTLS}


@pytest.mark.parametrize("value_set", ["default", "flags-off", "canary", "external-stores"])
def test_with_tls_off_nothing_changes(helm: Any, value_set: str) -> None:
    """Secret names alone, with TLS disabled, render the very same objects."""
    plain = helm.render(value_set, values={"tls.internal.enabled": False})
    assert helm.render(value_set, values=tls(gateway=False, internal=False)) == plain
    for _, spec in plain.pod_specs():
        for container in spec["containers"]:
            assert not [e for e in container.get("env", []) if "_TLS_" in e["name"]]
            assert tls_mounts({"volumeMounts": container.get("volumeMounts", [])}) == {}


def test_gateway_tls_without_a_secret_is_refused_with_a_sentence(helm: Any) -> None:
    error = helm.render_error("default", values={"tls.gateway.enabled": True})
    assert "tls.gateway.enabled is true: set tls.gateway.secretName" in error


def test_by_default_every_service_has_its_own_certificate_and_its_callers(
    default_render: Any, facts: Any
) -> None:
    """Internal mTLS is on by default with certificates the chart makes, one per service, and
    each backend serves only the services that call it."""
    for key in facts.services:
        name = facts.resource_name(key)
        pod = default_render.get("Deployment", name)["spec"]["template"]["spec"]
        assert tls_volumes(pod)["tls-internal"] == f"{name}-mtls"
        secret = default_render.get("Secret", f"{name}-mtls")
        assert {"tls.crt", "tls.key", "ca.crt"} <= set(secret["data"])
        env = default_render.env("Deployment", name)
        allowed = env.get(f"{prefix_of(key)}ALLOWED_CALLERS")
        if key == "gateway":
            assert allowed is None  # its callers are applications, with API keys
        elif key == "orchestrator":
            assert json.loads(allowed) == ["gateway", "lead-scoring", "conversation-optimizer"]
        else:
            assert json.loads(allowed) == ["gateway"]


def test_helm_test_pod_checks_the_gateway_over_tls_without_its_key(helm: Any, facts: Any) -> None:
    gateway = facts.resource_name("gateway")
    pod = helm.render("tls-on").get("Pod", f"{gateway}-health-test")
    container = pod["spec"]["containers"][0]
    command = container["command"]
    assert command[:3] == ["python", "-m", "tollgate.common.healthcheck"]
    assert "--tls" in command
    target = command[command.index("--target") + 1]
    assert target == f"{gateway}.{facts.namespace}.svc.cluster.local:50051"
    assert command[command.index("--server-name-from") + 1] == f"{GATEWAY_DIR}/tls.crt"
    assert [a for i, a in enumerate(command) if i and command[i - 1] == "--service"] == [
        "",
        "tollgate.v1.GatewayService",
    ]
    assert tls_mounts(container) == {"tls-gateway": (GATEWAY_DIR, True)}
    (volume,) = [v for v in pod["spec"]["volumes"] if v["name"] == "tls-gateway"]
    assert volume["secret"]["secretName"] == GATEWAY_SECRET
    assert sorted(item["key"] for item in volume["secret"]["items"]) == ["ca.crt", "tls.crt"]


def test_helm_test_pod_is_unchanged_without_gateway_tls(helm: Any, facts: Any) -> None:
    gateway = facts.resource_name("gateway")
    pod = helm.render("default", values=tls(gateway=False, internal=True)).get(
        "Pod", f"{gateway}-health-test"
    )
    assert pod["spec"]["containers"][0]["command"][:2] == ["python", "-c"]
    assert [v["name"] for v in pod["spec"]["volumes"]] == ["tmp"]


async def test_the_certificates_the_chart_makes_let_only_the_named_callers_in(
    default_render: Any, facts: Any, tmp_path: Path
) -> None:
    """The orchestrator, run with its rendered certificate and allowlist, answers the gateway
    (with the gateway's rendered certificate) and refuses the cache's: same CA, wrong service."""
    from tollgate.common.testing import serving
    from tollgate.orchestrator.service import build_service
    from tollgate.orchestrator.settings import Settings
    from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

    def files(key: str) -> dict[str, Path]:
        data = default_render.get("Secret", f"{facts.resource_name(key)}-mtls")["data"]
        written = {}
        for item in ("tls.crt", "tls.key", "ca.crt"):
            path = tmp_path / f"{key}-{item}"
            path.write_bytes(base64.b64decode(data[item]))
            written[item] = path
        return written

    server, gateway, cache = files("orchestrator"), files("gateway"), files("cache")
    allowed = default_render.env("Deployment", facts.resource_name("orchestrator"))[
        "TOLLGATE_ORCHESTRATOR_ALLOWED_CALLERS"
    ]
    settings = Settings(
        host="127.0.0.1",
        port=0,
        anthropic_api_key="unused",
        tls_cert_file=str(server["tls.crt"]),
        tls_key_file=str(server["tls.key"]),
        tls_client_ca_file=str(server["ca.crt"]),
        allowed_callers=json.loads(allowed),
    )
    dialled = f"{facts.resource_name('orchestrator')}.{facts.namespace}.svc.cluster.local"

    async def code_for(caller: dict[str, Path], address: str) -> grpc.StatusCode:
        credentials = grpc.ssl_channel_credentials(
            root_certificates=caller["ca.crt"].read_bytes(),
            private_key=caller["tls.key"].read_bytes(),
            certificate_chain=caller["tls.crt"].read_bytes(),
        )
        options = [("grpc.ssl_target_name_override", dialled)]
        async with grpc.aio.secure_channel(address, credentials, options=options) as channel:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            try:
                await stub.GetBatch(orchestrator_pb2.GetBatchRequest(batch_id="b"), timeout=10)
            except grpc.aio.AioRpcError as error:
                return error.code()
        return grpc.StatusCode.OK

    async with serving(await build_service(settings), settings) as orchestrator:
        # The gateway's handshake succeeds and it gets past the allowlist: the request itself
        # is then judged (no such batch).
        assert await code_for(gateway, orchestrator.address) not in (
            grpc.StatusCode.PERMISSION_DENIED,
            grpc.StatusCode.UNAVAILABLE,
        )
        assert await code_for(cache, orchestrator.address) == grpc.StatusCode.PERMISSION_DENIED
