"""helm lint --strict, helm template with every value set, and every rendered object validated
against the Kubernetes 1.29 and 1.35 OpenAPI schemas (kubernetes-validate, strict: no unknown
fields)."""

from __future__ import annotations

from typing import Any

import kubernetes_validate
import pytest

KUBE_VERSIONS = ("1.29.0", "1.35.0")


def test_lint_strict_passes_for_every_value_set(helm: Any, facts: Any, value_set: str) -> None:
    output = helm.run(
        "lint", "--strict", str(facts.chart), "--values", str(facts.value_sets[value_set])
    )
    assert "1 chart(s) linted, 0 chart(s) failed" in output


@pytest.mark.parametrize("kube_version", KUBE_VERSIONS)
def test_every_rendered_object_is_valid_kubernetes(
    helm: Any, value_set: str, kube_version: str
) -> None:
    rendered = helm.render(value_set, kube_version=kube_version)
    assert len(rendered.objects) > 20
    problems = []
    for obj in rendered.objects:
        try:
            kubernetes_validate.validate(obj, kube_version, strict=True)
        except kubernetes_validate.ValidationError as error:
            path = "/".join(str(p) for p in error.path)
            problems.append(f"{obj['kind']}/{obj['metadata']['name']} at {path}: {error.message}")
        except kubernetes_validate.SchemaNotFoundError as error:
            problems.append(f"{obj['kind']}/{obj['metadata']['name']}: {error.message}")
    assert problems == []


def test_the_validator_does_catch_invalid_objects() -> None:
    """Guards the test above: strict validation refuses unknown fields and wrong types."""
    deployment = {
        "apiVersion": "apps/v1",
        "kind": "Deployment",
        "metadata": {"name": "x"},
        "spec": {
            "selector": {"matchLabels": {"a": "b"}},
            "template": {
                "metadata": {"labels": {"a": "b"}},
                "spec": {
                    "containers": [{"name": "c", "image": "i", "imagePullPolicy": "Sometimes"}]
                },
            },
            "replicas": "two",
        },
    }
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.29.0", strict=True)
    deployment["spec"]["replicas"] = 2
    deployment["spec"]["template"]["spec"]["containers"][0]["readynessProbe"] = {}
    with pytest.raises(kubernetes_validate.ValidationError):
        kubernetes_validate.validate(deployment, "1.29.0", strict=True)


def test_chart_refuses_clusters_older_than_1_29(helm: Any) -> None:
    with pytest.raises(helm.Error, match=r"requires kubeVersion: >=1.29"):
        helm.render("default", kube_version="1.28.0")


def test_every_object_lives_in_the_release_namespace_unless_asked(
    rendered: Any, facts: Any, value_set: str
) -> None:
    elsewhere = {
        f"{o['kind']}/{o['metadata']['name']}": o["metadata"].get("namespace")
        for o in rendered.objects
        if o["metadata"].get("namespace") != facts.namespace
    }
    if value_set == "external-stores":
        # That value set sends the dashboard to the namespace Grafana's sidecar watches.
        assert elsewhere == {f"ConfigMap/{facts.fullname}-dashboard": "monitoring"}
    else:
        assert elsewhere == {}


def test_object_names_fit_kubernetes_limits_with_a_long_release_name(helm: Any) -> None:
    rendered = helm.render("canary", values={"fullnameOverride": "x" * 60})
    names = [o["metadata"]["name"] for o in rendered.objects]
    assert max(len(n) for n in names) <= 63
    assert any(n.endswith("-semantic-cache-canary") for n in names)
