"""Fixtures for the Helm chart tests: a helm binary, rendering with caching, manifest lookups.

The chart is proven without a cluster: `helm lint --strict`, `helm template` with the value sets
in deploy/helm/tollgate/ci/, schema validation of every rendered object against Kubernetes'
OpenAPI schemas, and policy checks on the rendered objects.
"""

from __future__ import annotations

import functools
import json
import os
import subprocess
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]
CHART = REPO / "deploy" / "helm" / "tollgate"
RELEASE = "tg"
NAMESPACE = "tollgate-test"
VALUE_SETS: dict[str, Path] = {
    "default": CHART / "ci" / "default-values.yaml",
    "flags-off": CHART / "ci" / "flags-off-values.yaml",
    "canary": CHART / "ci" / "canary-values.yaml",
    "external-stores": CHART / "ci" / "external-stores-values.yaml",
    "tls-on": CHART / "ci" / "tls-on-values.yaml",
}
# values key -> (module, default gRPC port); the contract every service's settings follow.
SERVICES: dict[str, tuple[str, int]] = {
    "gateway": ("gateway", 50051),
    "conversationOptimizer": ("conversation_optimizer", 50052),
    "cache": ("cache", 50053),
    "semanticCache": ("semantic_cache", 50054),
    "budgetLedger": ("budget_ledger", 50055),
    "orchestrator": ("orchestrator", 50056),
    "leadScoring": ("lead_scoring", 50057),
}

Manifest = dict[str, Any]


class HelmError(Exception):
    """helm exited non-zero; the message is its stderr."""


@dataclass(frozen=True)
class Rendered:
    """The objects one `helm template` produced, with lookups the tests share."""

    objects: tuple[Manifest, ...]

    def of_kind(self, kind: str) -> list[Manifest]:
        return [o for o in self.objects if o["kind"] == kind]

    def get(self, kind: str, name: str) -> Manifest:
        for obj in self.objects:
            if obj["kind"] == kind and obj["metadata"]["name"] == name:
                return obj
        names = [o["metadata"]["name"] for o in self.of_kind(kind)]
        raise KeyError(f"no {kind} named {name}; rendered: {names}")

    def find(self, kind: str, name: str) -> Manifest | None:
        try:
            return self.get(kind, name)
        except KeyError:
            return None

    def pod_specs(self) -> Iterator[tuple[Manifest, Manifest]]:
        """(owner object, pod spec) for every workload kind and bare Pod."""
        for obj in self.objects:
            if obj["kind"] in ("Deployment", "StatefulSet", "Job"):
                yield obj, obj["spec"]["template"]["spec"]
            elif obj["kind"] == "Pod":
                yield obj, obj["spec"]

    def flags_file(self) -> str:
        return str(self.get("ConfigMap", f"{RELEASE}-tollgate-flags")["data"]["flags.yaml"])

    def container(self, kind: str, name: str) -> Manifest:
        containers: list[Manifest] = self.get(kind, name)["spec"]["template"]["spec"]["containers"]
        assert len(containers) == 1, f"{kind}/{name} has {len(containers)} containers"
        return containers[0]

    def env(self, kind: str, name: str) -> dict[str, Any]:
        """Environment of a workload's container: plain values as str, references as dicts."""
        return {
            e["name"]: e.get("value", e.get("valueFrom"))
            for e in self.container(kind, name).get("env", [])
        }


class Helm:
    """Runs the helm binary against the chart; renders are cached (they are pure functions)."""

    Error = HelmError

    def __init__(self, binary: str) -> None:
        self.binary = binary

    def run(self, *args: str) -> str:
        result = subprocess.run(
            [self.binary, *args], capture_output=True, text=True, timeout=120, check=False
        )
        if result.returncode != 0:
            raise HelmError(result.stderr.strip() or result.stdout.strip())
        return result.stdout

    def render(
        self,
        *value_sets: str,
        values: Mapping[str, Any] | None = None,
        kube_version: str = "1.35.0",
    ) -> Rendered:
        """`helm template` with named value sets, then `values` given as --set-json."""
        frozen = json.dumps(dict(values or {}), sort_keys=True)
        return self._render(value_sets, frozen, kube_version)

    @functools.lru_cache(maxsize=128)  # noqa: B019 - one Helm per session, renders are pure
    def _render(self, value_sets: tuple[str, ...], frozen: str, kube_version: str) -> Rendered:
        args = ["template", RELEASE, str(CHART), "--namespace", NAMESPACE]
        args += ["--kube-version", kube_version]
        for name in value_sets:
            args += ["--values", str(VALUE_SETS[name])]
        for key, value in json.loads(frozen).items():
            args += ["--set-json", f"{key}={json.dumps(value)}"]
        documents = yaml.safe_load_all(self.run(*args))
        return Rendered(tuple(d for d in documents if d))

    def render_error(self, *value_sets: str, values: Mapping[str, Any] | None = None) -> str:
        """The error helm prints for values that must be refused."""
        try:
            self.render(*value_sets, values=values)
        except HelmError as error:
            return str(error)
        raise AssertionError(f"helm accepted values it must refuse: {values}")


@pytest.fixture(scope="session")
def helm() -> Helm:
    """The pinned helm (fetched once into .tools/ by scripts/fetch-helm.sh), or $HELM.

    The tests pin helm rather than take whichever is on PATH: lint and schema messages differ
    between Helm releases, and the assertions read them.
    """
    if os.environ.get("HELM"):
        return Helm(os.environ["HELM"])
    result = subprocess.run(
        [str(REPO / "scripts" / "fetch-helm.sh")],
        capture_output=True,
        text=True,
        timeout=600,
        check=False,
        env={**os.environ, "TOLLGATE_LAYER_HELM": "1"},
    )
    if result.returncode != 0:
        pytest.fail(f"no helm binary: scripts/fetch-helm.sh failed:\n{result.stderr}")
    return Helm(result.stdout.strip().splitlines()[-1])


@pytest.fixture(scope="session")
def default_render(helm: Helm) -> Rendered:
    return helm.render("default")


@pytest.fixture(scope="session", params=list(VALUE_SETS))
def value_set(request: pytest.FixtureRequest) -> str:
    return str(request.param)


@pytest.fixture(scope="session")
def rendered(helm: Helm, value_set: str) -> Rendered:
    """The chart rendered with each value set in turn."""
    return helm.render(value_set)


@pytest.fixture(scope="session")
def chart_values() -> dict[str, Any]:
    return dict(yaml.safe_load((CHART / "values.yaml").read_text()))


@pytest.fixture(scope="session")
def values_schema() -> dict[str, Any]:
    return dict(json.loads((CHART / "values.schema.json").read_text()))


@dataclass(frozen=True)
class ChartFacts:
    """Constants the chart tests share (test modules do not import each other or conftest)."""

    repo: Path = REPO
    chart: Path = CHART
    release: str = RELEASE
    namespace: str = NAMESPACE
    fullname: str = f"{RELEASE}-tollgate"

    @property
    def services(self) -> dict[str, tuple[str, int]]:
        return dict(SERVICES)

    @property
    def value_sets(self) -> dict[str, Path]:
        return dict(VALUE_SETS)

    def resource_name(self, key: str) -> str:
        """Name of the Deployment and Service of services.<key>, e.g. tg-tollgate-semantic-cache."""
        module, _ = SERVICES[key]
        return f"{self.fullname}-{module.replace('_', '-')}"


@pytest.fixture(scope="session")
def facts() -> ChartFacts:
    return ChartFacts()
