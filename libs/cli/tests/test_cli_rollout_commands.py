"""`tollgate rollout` against a small fake of the Kubernetes API on loopback: the real
`kubernetes` client, a real kubeconfig, real HTTP; only the API server is a stand-in."""

from __future__ import annotations

import copy
import json
import socket
import threading
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs, urlsplit

import pytest
import yaml

from tollgate.cli.main import main
from tollgate.common.flag_layers import layered_text
from tollgate.gateway.flags_config import parse_gateway_config

NAMESPACE = "tollgate"
TOKEN = "test-token"
FLAGS_CONFIGMAP = "tollgate-flags"
OVERRIDES_CONFIGMAP = "tollgate-flag-overrides"

# The flags file as the chart renders it (helm template of deploy/helm/tollgate, canary on).
FLAGS_FILE = """\
# Rendered by Helm from the values `flags` and `services.<name>.canary`.
canaries:
  cache:
    canaryWeight: 10
flags:
  budget_enforcement:
    enabled: true
    mode: enforce
    parameters:
      failMode: closed
      failOpenTenants: []
    rolloutPercent: 100
  conversation_optimization:
    enabled: true
    mode: enforce
    parameters:
      targetTokens: 6000
    rolloutPercent: 100
  exact_cache:
    enabled: true
    mode: enforce
    parameters:
      ttlSeconds: 3600
    rolloutPercent: 100
  lead_reasoning:
    enabled: true
    mode: enforce
    parameters: {}
    rolloutPercent: 100
  prompt_caching:
    enabled: true
    mode: enforce
    parameters:
      ttl: 5m
    rolloutPercent: 100
  semantic_cache:
    enabled: true
    mode: shadow
    parameters:
      minSimilarity: 0.9
    rolloutPercent: 10
version: 1
"""


def deployment(
    component: str,
    image: str,
    *,
    track: str = "stable",
    replicas: int = 2,
    updated: int | None = None,
    available: int | None = None,
    generation: int = 4,
    observed: int = 4,
    deadline_exceeded: bool = False,
    release: str = "tollgate",
) -> dict[str, Any]:
    name = f"{release}-{component}" + ("-canary" if track == "canary" else "")
    labels = {
        "app.kubernetes.io/name": "tollgate",
        "app.kubernetes.io/instance": release,
        "app.kubernetes.io/component": component,
        "app.kubernetes.io/part-of": "tollgate",
        "track": track,
    }
    pod_spec: dict[str, Any] = {"containers": [{"name": component, "image": image}]}
    if component == "gateway":
        pod_spec["volumes"] = [
            {"name": "flags", "configMap": {"name": FLAGS_CONFIGMAP}},
            {
                "name": "flag-overrides",
                "configMap": {"name": OVERRIDES_CONFIGMAP, "optional": True},
            },
        ]
    conditions = [{"type": "Available", "status": "True"}]
    if deadline_exceeded:
        conditions.append(
            {"type": "Progressing", "status": "False", "reason": "ProgressDeadlineExceeded"}
        )
    updated = replicas if updated is None else updated
    available = updated if available is None else available
    return {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {
            "name": name,
            "namespace": NAMESPACE,
            "labels": labels,
            "generation": generation,
        },
        "spec": {
            "replicas": replicas,
            "selector": {"matchLabels": labels},
            "template": {"metadata": {"labels": labels}, "spec": pod_spec},
        },
        "status": {
            "observedGeneration": observed,
            "replicas": replicas,
            "updatedReplicas": updated,
            "readyReplicas": available,
            "availableReplicas": available,
            "conditions": conditions,
        },
    }


def merge_patch(target: Any, patch: Any) -> Any:
    """RFC 7386 JSON merge patch."""
    if not isinstance(patch, dict):
        return patch
    result = dict(target) if isinstance(target, dict) else {}
    for key, value in patch.items():
        if value is None:
            result.pop(key, None)
        else:
            result[key] = merge_patch(result.get(key), value)
    return result


@dataclass
class FakeKubernetes:
    """The few endpoints `tollgate rollout` calls, with the API server's rules that matter:
    bearer auth, label selectors, and optimistic concurrency on resourceVersion."""

    deployments: list[dict[str, Any]] = field(default_factory=list)
    configmaps: dict[str, dict[str, Any]] = field(default_factory=dict)
    requests: list[tuple[str, str]] = field(default_factory=list)
    patches: list[dict[str, Any]] = field(default_factory=list)
    writes: list[tuple[str, str]] = field(default_factory=list)
    forbidden: bool = False
    # Called before a PATCH is applied: lets a test change the object "concurrently".
    before_patch: Callable[[FakeKubernetes], None] | None = None
    url: str = ""

    def add_configmap(self, name: str, text: str) -> None:
        self.configmaps[name] = {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {"name": name, "namespace": NAMESPACE, "resourceVersion": "100"},
            "data": {"flags.yaml": text},
        }

    def flags_text(self, name: str = FLAGS_CONFIGMAP) -> str:
        return str(self.configmaps[name]["data"]["flags.yaml"])

    def overrides_text(self) -> str:
        configmap = self.configmaps.get(OVERRIDES_CONFIGMAP)
        return str(configmap["data"]["overrides.yaml"]) if configmap else ""

    def gateway_config(self) -> Any:
        """What the gateway applies: Helm's flags with the overrides layered over them."""
        return parse_gateway_config(layered_text(self.flags_text(), self.overrides_text()))

    def helm_renders(self, text: str, name: str = FLAGS_CONFIGMAP) -> None:
        """What `helm upgrade` does to the ConfigMap: new data, annotations left alone."""
        configmap = self.configmaps[name]
        configmap["data"]["flags.yaml"] = text
        configmap["metadata"]["resourceVersion"] = str(
            int(configmap["metadata"]["resourceVersion"]) + 1
        )

    def handle(self, method: str, path: str, body: bytes, headers: Any) -> tuple[int, Any]:
        self.requests.append((method, path))
        if headers.get("Authorization") != f"Bearer {TOKEN}":
            return 401, status_body(401, "Unauthorized", "Unauthorized")
        if self.forbidden:
            return 403, status_body(
                403, "Forbidden", 'configmaps "tollgate-flags" is forbidden: User "dev" cannot get'
            )
        url = urlsplit(path)
        parts = url.path.strip("/").split("/")
        if parts[:3] == ["apis", "apps", "v1"] and parts[5:] == ["deployments"]:
            namespace = parts[4]
            selector = parse_qs(url.query).get("labelSelector", [""])[0]
            wanted = dict(term.split("=", 1) for term in selector.split(",") if term)
            items = [
                d
                for d in self.deployments
                if d["metadata"]["namespace"] == namespace
                and wanted.items() <= d["metadata"]["labels"].items()
            ]
            return 200, {
                "apiVersion": "apps/v1",
                "kind": "DeploymentList",
                "metadata": {},
                "items": items,
            }
        if method == "POST" and parts[:2] == ["api", "v1"] and parts[4:] == ["configmaps"]:
            return self._create(parts[3], json.loads(body))
        if parts[:2] == ["api", "v1"] and len(parts) == 6 and parts[4] == "configmaps":
            namespace, name = parts[3], parts[5]
            configmap = self.configmaps.get(name)
            if configmap is None or configmap["metadata"]["namespace"] != namespace:
                return 404, status_body(404, "NotFound", f'configmaps "{name}" not found')
            if method == "GET":
                return 200, configmap
            if method == "PATCH":
                self.writes.append(("PATCH", name))
                return self._patch(configmap, body, headers)
            if method == "DELETE":
                return self._delete(name, configmap, json.loads(body or b"{}"))
        return 404, status_body(404, "NotFound", f"no route for {method} {url.path}")

    def _create(self, namespace: str, manifest: dict[str, Any]) -> tuple[int, Any]:
        name = manifest["metadata"]["name"]
        self.writes.append(("POST", name))
        if self.before_patch is not None:
            self.before_patch(self)
        if name in self.configmaps:
            return 409, status_body(409, "AlreadyExists", f'configmaps "{name}" already exists')
        manifest["metadata"].update({"namespace": namespace, "resourceVersion": "1"})
        self.configmaps[name] = manifest
        return 201, manifest

    def _delete(self, name: str, configmap: dict[str, Any], options: Any) -> tuple[int, Any]:
        self.writes.append(("DELETE", name))
        expected = (options.get("preconditions") or {}).get("resourceVersion")
        if expected is not None and expected != configmap["metadata"]["resourceVersion"]:
            return 409, status_body(409, "Conflict", "the object has been modified")
        del self.configmaps[name]
        return 200, status_body(200, "Success", "deleted")

    def _patch(self, configmap: dict[str, Any], body: bytes, headers: Any) -> tuple[int, Any]:
        if headers.get("Content-Type") != "application/merge-patch+json":
            return 415, status_body(415, "UnsupportedMediaType", headers.get("Content-Type", ""))
        if self.before_patch is not None:
            self.before_patch(self)
        patch = json.loads(body)
        self.patches.append(patch)
        expected = patch.get("metadata", {}).get("resourceVersion")
        current = configmap["metadata"]["resourceVersion"]
        if expected is not None and expected != current:
            return 409, status_body(
                409,
                "Conflict",
                "Operation cannot be fulfilled on configmaps: the object has been modified",
            )
        updated = merge_patch(configmap, patch)
        updated["metadata"]["resourceVersion"] = str(int(current) + 1)
        configmap.clear()
        configmap.update(updated)
        return 200, configmap


def status_body(code: int, reason: str, message: str) -> dict[str, Any]:
    return {
        "apiVersion": "v1",
        "kind": "Status",
        "status": "Failure",
        "message": message,
        "reason": reason,
        "code": code,
    }


def serve(fake: FakeKubernetes) -> ThreadingHTTPServer:
    class Handler(BaseHTTPRequestHandler):
        def _respond(self) -> None:
            length = int(self.headers.get("Content-Length") or 0)
            body = self.rfile.read(length) if length else b""
            code, payload = fake.handle(self.command, self.path, body, self.headers)
            data = json.dumps(payload).encode()
            self.send_response(code)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        do_GET = do_PATCH = do_POST = do_DELETE = _respond

        def log_message(self, format: str, *args: Any) -> None:
            pass

    return ThreadingHTTPServer(("127.0.0.1", 0), Handler)


@pytest.fixture
def fake() -> Iterator[FakeKubernetes]:
    api = FakeKubernetes()
    api.deployments = [
        deployment("gateway", "registry.example/tollgate/gateway:0.1.0"),
        deployment("cache", "registry.example/tollgate/cache:0.1.0"),
        deployment("cache", "registry.example/tollgate/cache:0.2.0", track="canary", replicas=1),
        deployment("semantic-cache", "registry.example/tollgate/semantic-cache:0.1.0"),
        # Another release in the same namespace must not show up.
        deployment("gateway", "registry.example/tollgate/gateway:9.9.9", release="other"),
    ]
    api.add_configmap(FLAGS_CONFIGMAP, FLAGS_FILE)
    server = serve(api)
    api.url = f"http://127.0.0.1:{server.server_address[1]}"
    thread = threading.Thread(
        target=server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True
    )
    thread.start()
    yield api
    server.shutdown()
    server.server_close()


def write_kubeconfig(path: Path, server: str, namespace: str = NAMESPACE) -> Path:
    path.write_text(
        yaml.safe_dump(
            {
                "apiVersion": "v1",
                "kind": "Config",
                "clusters": [{"name": "fake", "cluster": {"server": server}}],
                "users": [{"name": "dev", "user": {"token": TOKEN}}],
                "contexts": [
                    {
                        "name": "fake",
                        "context": {"cluster": "fake", "user": "dev", "namespace": namespace},
                    }
                ],
                "current-context": "fake",
            }
        )
    )
    return path


@pytest.fixture
def kubeconfig(fake: FakeKubernetes, tmp_path: Path) -> Path:
    return write_kubeconfig(tmp_path / "kubeconfig", fake.url)


@pytest.fixture
def cli(
    kubeconfig: Path, capsys: pytest.CaptureFixture[str]
) -> Callable[..., tuple[int, str, str]]:
    def run(*args: str) -> tuple[int, str, str]:
        code = main(["rollout", *args, "--kubeconfig", str(kubeconfig)])
        captured = capsys.readouterr()
        return code, captured.out, captured.err

    return run


def row(output: str, *starts: str) -> list[str]:
    for line in output.splitlines():
        cells = line.split()
        if cells[: len(starts)] == list(starts):
            return cells
    raise AssertionError(f"no row starting {starts} in:\n{output}")


# ---- status ------------------------------------------------------------------------------------


def test_status_shows_deployments_images_weights_and_flags(cli: Any, fake: FakeKubernetes) -> None:
    code, out, err = cli("status")
    assert (code, err) == (0, "")
    assert "Release tollgate in namespace tollgate" in out
    assert row(out, "cache", "stable") == [
        "cache",
        "stable",
        "registry.example/tollgate/cache:0.1.0",
        "2/2",
        "2",
        "90%",
        "complete",
    ]
    assert row(out, "cache", "canary")[2:6] == [
        "registry.example/tollgate/cache:0.2.0",
        "1/1",
        "1",
        "10%",
    ]
    assert row(out, "gateway", "stable")[2] == "registry.example/tollgate/gateway:0.1.0"
    assert "9.9.9" not in out  # the other release
    assert row(out, "semantic_cache") == [
        "semantic_cache",
        "yes",
        "10%",
        "shadow",
        "minSimilarity=0.9",
        "-",
    ]
    assert row(out, "exact_cache")[:4] == ["exact_cache", "yes", "100%", "enforce"]
    assert "Runtime overrides in force" not in out
    # It found the ConfigMap through the gateway's flags volume and read only what it needed.
    assert ("GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{FLAGS_CONFIGMAP}") in fake.requests
    assert not [r for r in fake.requests if r[0] != "GET"]


def test_status_reports_rollouts_in_progress_and_fails_on_a_stuck_one(
    cli: Any, fake: FakeKubernetes
) -> None:
    fake.deployments[1] = deployment("cache", "tollgate/cache:0.1.1", updated=1, available=1)
    fake.deployments[3] = deployment(
        "semantic-cache",
        "tollgate/semantic-cache:0.1.1",
        updated=1,
        available=0,
        deadline_exceeded=True,
    )
    code, out, _ = cli("status")
    assert code == 1
    assert "rolling out: 1 of 2 pods updated" in out
    stuck = " ".join(row(out, "semantic-cache", "stable")[6:])
    assert stuck.startswith("failed: progress deadline exceeded")


def test_status_as_json(cli: Any) -> None:
    code, out, _ = cli("status", "-o", "json")
    assert code == 0
    payload = json.loads(out)
    assert payload["configmap"] == FLAGS_CONFIGMAP
    assert payload["canaries"] == {"cache": 10}
    assert payload["flags"]["semantic_cache"]["rolloutPercent"] == 10
    tracks = {(d["service"], d["track"]): d for d in payload["deployments"]}
    assert tracks[("cache", "canary")]["image"] == "registry.example/tollgate/cache:0.2.0"
    assert payload["failed"] is False


def test_status_of_an_unknown_release_says_what_to_check(cli: Any) -> None:
    code, out, err = cli("status", "--release", "nope")
    assert (code, out) == (3, "")
    assert "no Deployments of Tollgate release nope in namespace tollgate" in err


def test_namespace_comes_from_the_context_unless_given(cli: Any, fake: FakeKubernetes) -> None:
    code, _, err = cli("status", "-n", "elsewhere")
    assert code == 3
    assert "namespace elsewhere" in err
    assert any("/namespaces/elsewhere/" in path for _, path in fake.requests)


def test_forbidden_points_at_the_rbac_the_chart_offers(cli: Any, fake: FakeKubernetes) -> None:
    fake.forbidden = True
    code, _, err = cli("status")
    assert code == 3
    assert "not allowed to list Deployments in namespace tollgate" in err
    assert "rbac.rolloutOperator" in err


def test_unreachable_api_is_a_sentence_not_a_traceback(tmp_path: Path, capsys: Any) -> None:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = write_kubeconfig(tmp_path / "kubeconfig", f"http://127.0.0.1:{port}")
    code = main(["rollout", "status", "--kubeconfig", str(config)])
    err = capsys.readouterr().err
    assert code == 3
    assert f"cannot reach the Kubernetes API at http://127.0.0.1:{port}" in err
    assert "Traceback" not in err


def test_missing_kubeconfig_is_reported(tmp_path: Path, capsys: Any) -> None:
    code = main(["rollout", "status", "--kubeconfig", str(tmp_path / "absent")])
    assert code == 3
    assert "cannot load Kubernetes credentials" in capsys.readouterr().err


# ---- set-flag ----------------------------------------------------------------------------------


def test_kill_switch_is_an_override_helms_configmap_is_never_edited(
    cli: Any, fake: FakeKubernetes
) -> None:
    before = fake.gateway_config()
    code, out, err = cli("set-flag", "semanticCache", "--off")
    assert (code, err) == (0, "")
    assert fake.flags_text() == FLAGS_FILE  # Helm's ConfigMap: read, never written
    assert [name for _, name in fake.writes] == [OVERRIDES_CONFIGMAP]
    after = fake.gateway_config()  # the gateway's own loader accepts the layering
    assert after.flags["semantic_cache"].enabled is False
    # Only what the switch names is overridden.
    assert yaml.safe_load(fake.overrides_text()) == {
        "flags": {"semantic_cache": {"enabled": False}}
    }
    assert after.flags["semantic_cache"].rollout_percent == 10
    for key in before.flags:
        if key != "semantic_cache":
            assert after.flags[key] == before.flags[key]
    assert after.canaries == before.canaries
    overrides = fake.configmaps[OVERRIDES_CONFIGMAP]["metadata"]
    assert overrides["annotations"]["tollgate/cli-edit"] == "semantic_cache enabled=false"
    # Nothing in the release renders it: Helm's ownership labels are not on it.
    assert overrides["labels"]["app.kubernetes.io/managed-by"] == "tollgate-rollout"
    assert "Helm upgrades and rollbacks keep this override" in out
    assert "clear-overrides" in out


def test_a_helm_upgrade_or_rollback_never_undoes_an_override(
    cli: Any, fake: FakeKubernetes
) -> None:
    cli("set-flag", "semantic_cache", "--off")
    # `helm upgrade --set flags.semanticCache.rolloutPercent=50`, then `helm rollback`.
    fake.helm_renders(FLAGS_FILE.replace("rolloutPercent: 10\n", "rolloutPercent: 50\n"))
    assert fake.gateway_config().flags["semantic_cache"].enabled is False
    assert fake.gateway_config().flags["semantic_cache"].rollout_percent == 50
    fake.helm_renders(FLAGS_FILE)
    assert fake.gateway_config().flags["semantic_cache"].enabled is False
    _, out, _ = cli("status")
    assert row(out, "semantic_cache")[:4] == ["semantic_cache", "no", "10%", "shadow"]
    assert row(out, "semantic_cache")[-1] == "enabled"
    assert "Runtime overrides in force: flag semantic_cache" in out
    assert "semantic_cache enabled=false" in out


def test_clear_overrides_hands_control_back_to_helm(cli: Any, fake: FakeKubernetes) -> None:
    cli("set-flag", "semantic_cache", "--off")
    cli("set-canary-weight", "cache", "0")
    code, out, _ = cli("clear-overrides", "--flag", "semantic_cache")
    assert code == 0
    assert "cleared the overrides of flag semantic_cache" in out
    assert fake.gateway_config().flags["semantic_cache"].enabled is True
    assert fake.gateway_config().canary_weight("cache") == 0  # not named: kept
    code, _, _ = cli("clear-overrides")
    assert code == 0
    assert OVERRIDES_CONFIGMAP not in fake.configmaps  # nothing left: deleted
    assert fake.gateway_config().canary_weight("cache") == 10
    code, _, err = cli("clear-overrides", "--flag", "exact_cache")
    assert code == 2
    assert "no override of exact_cache" in err


def test_overrides_accumulate(cli: Any, fake: FakeKubernetes) -> None:
    cli("set-flag", "exact-cache", "--on", "--rollout-percent", "25", "--mode", "shadow")
    cli("set-flag", "exact_cache", "--parameter", "ttlSeconds=600")
    config = fake.gateway_config()
    assert config.flags["exact_cache"].rollout_percent == 25
    assert config.flags["exact_cache"].parameters == {"ttlSeconds": 600}
    assert [method for method, _ in fake.writes] == ["POST", "PATCH"]


@pytest.mark.parametrize(
    "bad", [["--rollout-percent", "150"], ["--rollout-percent", "ten"], ["--mode", "on"]]
)
def test_out_of_range_values_are_refused_before_anything_is_read(
    cli: Any, fake: FakeKubernetes, bad: list[str], capsys: Any
) -> None:
    with pytest.raises(SystemExit) as exit_info:
        cli("set-flag", "semantic_cache", *bad)
    assert exit_info.value.code == 2
    assert fake.requests == []


def test_unknown_flag_is_refused_and_nothing_is_written(cli: Any, fake: FakeKubernetes) -> None:
    code, _, err = cli("set-flag", "turbo_mode", "--off")
    assert code == 2
    assert "no flag named turbo_mode" in err
    assert "semantic_cache" in err  # the known ones are listed
    assert fake.writes == []


def test_a_parameter_the_gateway_would_refuse_is_refused(cli: Any, fake: FakeKubernetes) -> None:
    code, _, err = cli("set-flag", "exact_cache", "--parameter", "ttlSeconds=-5")
    assert code == 2
    assert "ttlSeconds" in err
    assert fake.writes == []


def test_set_flag_without_a_change_is_refused(cli: Any, fake: FakeKubernetes) -> None:
    code, _, err = cli("set-flag", "semantic_cache")
    assert code == 2
    assert "nothing to change" in err
    assert fake.requests == []


def test_dry_run_writes_nothing(cli: Any, fake: FakeKubernetes) -> None:
    code, out, _ = cli("set-flag", "exact_cache", "--off", "--dry-run")
    assert code == 0
    assert "the gateway would apply" in out
    document = out.split(":\n\n", 1)[1]
    assert parse_gateway_config(document).flags["exact_cache"].enabled is False
    assert fake.writes == []


def test_a_concurrent_edit_is_kept_not_overwritten(cli: Any, fake: FakeKubernetes) -> None:
    """Someone else writes the overrides between our read and our write: the API refuses our
    stale patch (409), the CLI reads again and applies its change on top of theirs."""
    cli("set-canary-weight", "cache", "5")

    def someone_else_writes(api: FakeKubernetes) -> None:
        api.before_patch = None
        configmap = api.configmaps[OVERRIDES_CONFIGMAP]
        configmap["data"]["overrides.yaml"] = "canaries:\n  cache: {canaryWeight: 0}\n"
        metadata = configmap["metadata"]
        metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)

    fake.before_patch = someone_else_writes
    code, _, err = cli("set-flag", "semantic_cache", "--off")
    assert (code, err) == (0, "")
    assert len(fake.patches) == 2
    config = fake.gateway_config()
    assert config.flags["semantic_cache"].enabled is False
    assert config.canary_weight("cache") == 0


def test_gives_up_cleanly_when_the_overrides_keep_changing(cli: Any, fake: FakeKubernetes) -> None:
    cli("set-canary-weight", "cache", "5")
    written = fake.overrides_text()

    def always_someone_else(api: FakeKubernetes) -> None:
        metadata = api.configmaps[OVERRIDES_CONFIGMAP]["metadata"]
        metadata["resourceVersion"] = str(int(metadata["resourceVersion"]) + 1)

    fake.before_patch = always_someone_else
    code, _, err = cli("set-flag", "semantic_cache", "--off")
    assert code == 3
    assert "kept changing" in err
    assert "nothing was written" in err
    assert fake.overrides_text() == written


def test_a_broken_flags_file_is_reported_and_left_alone(cli: Any, fake: FakeKubernetes) -> None:
    fake.add_configmap(FLAGS_CONFIGMAP, "flags: [this is: not a mapping")
    code, _, err = cli("set-flag", "semantic_cache", "--off")
    assert code == 3
    assert f"ConfigMap {FLAGS_CONFIGMAP} does not hold valid YAML" in err
    assert fake.writes == []


def test_explicit_configmap_names_are_used(cli: Any, fake: FakeKubernetes) -> None:
    fake.add_configmap("custom-flags", FLAGS_FILE)
    code, _, _ = cli(
        "set-flag",
        "exact_cache",
        "--off",
        "--configmap",
        "custom-flags",
        "--overrides-configmap",
        "custom-overrides",
    )
    assert code == 0
    assert "custom-overrides" in fake.configmaps
    assert OVERRIDES_CONFIGMAP not in fake.configmaps
    code, _, err = cli("set-flag", "exact_cache", "--off", "--configmap", "absent")
    assert code == 3
    assert "cannot read ConfigMap absent: it does not exist in namespace tollgate" in err


# ---- set-canary-weight -------------------------------------------------------------------------


def test_canary_weight_zero_stops_canary_traffic(cli: Any, fake: FakeKubernetes) -> None:
    code, _, _ = cli("set-canary-weight", "cache", "0")
    assert code == 0
    assert fake.gateway_config().canary_weight("cache") == 0
    assert fake.flags_text() == FLAGS_FILE
    _, out, _ = cli("status")
    assert row(out, "cache", "canary")[5] == "0%"
    assert row(out, "cache", "stable")[5] == "100%"


def test_canary_weight_needs_a_deployed_canary(cli: Any, fake: FakeKubernetes) -> None:
    code, _, err = cli("set-canary-weight", "semantic-cache", "20")
    assert code == 2
    assert "no canary of semantic_cache is deployed (canaries deployed: cache)" in err
    assert "services.semanticCache.canary.enabled" in err
    assert fake.writes == []
    with pytest.raises(SystemExit):
        cli("set-canary-weight", "cache", "101")


def test_the_fake_enforces_what_the_cli_relies_on(fake: FakeKubernetes) -> None:
    """Guards the tests above: a wrong token, a stale resourceVersion and a JSON patch type are
    refused by the fake as by a real API server."""
    headers = {"Authorization": "Bearer wrong"}
    assert (
        fake.handle(
            "GET", f"/api/v1/namespaces/{NAMESPACE}/configmaps/{FLAGS_CONFIGMAP}", b"", headers
        )[0]
        == 401
    )
    headers = {"Authorization": f"Bearer {TOKEN}", "Content-Type": "application/merge-patch+json"}
    path = f"/api/v1/namespaces/{NAMESPACE}/configmaps/{FLAGS_CONFIGMAP}"
    stale = json.dumps({"metadata": {"resourceVersion": "1"}, "data": {"flags.yaml": "x"}}).encode()
    assert fake.handle("PATCH", path, stale, headers)[0] == 409
    json_patch = {**headers, "Content-Type": "application/json-patch+json"}
    assert fake.handle("PATCH", path, b"[]", json_patch)[0] == 415
    assert fake.flags_text() == FLAGS_FILE
    assert copy.deepcopy(fake.configmaps[FLAGS_CONFIGMAP])["metadata"]["resourceVersion"] == "100"
