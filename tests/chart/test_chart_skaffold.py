"""skaffold.yaml builds one image per service from the one Dockerfile and deploys this chart;
every profile's values render and validate."""

from __future__ import annotations

import copy
import re
from pathlib import Path
from typing import Any

import kubernetes_validate
import pytest
import yaml

REPO = Path(__file__).resolve().parents[2]


@pytest.fixture(scope="module")
def skaffold() -> dict[str, Any]:
    return dict(yaml.safe_load((REPO / "skaffold.yaml").read_text()))


def apply_patches(config: dict[str, Any], patches: list[dict[str, Any]]) -> dict[str, Any]:
    """The JSON-patch `add`/`replace` operations skaffold profiles use."""
    patched = copy.deepcopy(config)
    for patch in patches:
        assert patch["op"] in ("add", "replace"), patch
        *parents, leaf = patch["path"].strip("/").split("/")
        node: Any = patched
        for part in parents:
            node = node[int(part)] if isinstance(node, list) else node[part]
        node[leaf] = patch["value"]
    return patched


def sanitized(image: str) -> str:
    """How skaffold names an image in templates (SanitizeHelmTemplateValue)."""
    return re.sub(r"[./:-]", "_", image)


def fake_build(template: str, artifacts: list[dict[str, Any]]) -> str:
    """Fills skaffold's image placeholders the way a build would."""
    for artifact in artifacts:
        name = sanitized(artifact["image"])
        template = template.replace(
            f"{{{{.IMAGE_REPO_{name}}}}}", f"registry.dev/{artifact['image']}"
        )
        template = template.replace(f"{{{{.IMAGE_TAG_{name}}}}}", "abc1234")
        template = template.replace(f"{{{{.IMAGE_DIGEST_{name}}}}}", "sha256:" + "0" * 64)
    return template


def test_one_artifact_per_service_built_from_the_one_dockerfile(
    skaffold: dict[str, Any], facts: Any
) -> None:
    artifacts = {a["image"]: a for a in skaffold["build"]["artifacts"]}
    expected = {
        f"tollgate/{module.replace('_', '-')}": module for module, _ in facts.services.values()
    }
    assert set(artifacts) == set(expected)
    for image, module in expected.items():
        artifact = artifacts[image]
        assert artifact["context"] == "."
        assert artifact["docker"]["dockerfile"] == "Dockerfile"
        assert artifact["docker"]["buildArgs"] == {"SERVICE": module}
        assert (REPO / "services" / module / "pyproject.toml").is_file()
        # Everything the build needs is inside the repository: no extra build contexts.
        assert "cliFlags" not in artifact["docker"]
    # BuildKit through the Docker CLI, as `make images` uses it.
    assert skaffold["build"]["local"]["useDockerCLI"] is True
    assert skaffold["build"]["local"]["useBuildkit"] is True


def test_deploys_this_chart_with_the_built_images(skaffold: dict[str, Any], facts: Any) -> None:
    (release,) = skaffold["deploy"]["helm"]["releases"]
    assert release["chartPath"] == "deploy/helm/tollgate"
    templates = release["setValueTemplates"]
    for key, (module, _) in facts.services.items():
        name = sanitized(f"tollgate/{module.replace('_', '-')}")
        assert templates[f"services.{key}.image.repository"] == f"{{{{.IMAGE_REPO_{name}}}}}"
        assert templates[f"services.{key}.image.tag"] == (
            f"{{{{.IMAGE_TAG_{name}}}}}@{{{{.IMAGE_DIGEST_{name}}}}}"
        )
        # Skaffold's repository already carries the registry: the chart must not add another.
        assert templates[f"services.{key}.image.registry"] == ""


def test_has_dev_and_prod_profiles(skaffold: dict[str, Any]) -> None:
    profiles = {p["name"]: p for p in skaffold["profiles"]}
    assert set(profiles) == {"dev", "prod"}
    assert profiles["dev"]["activation"] == [{"command": "dev"}]
    prod = apply_patches(skaffold, profiles["prod"]["patches"])
    assert prod["build"]["local"]["push"] is True


@pytest.mark.parametrize("profile", ["none", "dev", "prod"])
def test_each_profile_renders_valid_manifests_with_the_built_images(
    skaffold: dict[str, Any], helm: Any, facts: Any, profile: str
) -> None:
    config = skaffold
    for candidate in skaffold["profiles"]:
        if candidate["name"] == profile:
            config = apply_patches(skaffold, candidate["patches"])
    (release,) = config["deploy"]["helm"]["releases"]
    artifacts = config["build"]["artifacts"]
    values: dict[str, Any] = {
        key: fake_build(value, artifacts) for key, value in release["setValueTemplates"].items()
    }
    values.update(release.get("setValues", {}))
    args = [
        "template",
        release["name"],
        str(REPO / release["chartPath"]),
        "--namespace",
        release["namespace"],
    ]
    for values_file in release.get("valuesFiles", []):
        assert (REPO / values_file).is_file(), values_file
        args += ["--values", str(REPO / values_file)]
    for key, value in values.items():
        args += ["--set-string" if isinstance(value, str) else "--set", f"{key}={value}"]
    objects = [o for o in yaml.safe_load_all(helm.run(*args)) if o]
    images = {
        c["image"]
        for o in objects
        if o["kind"] == "Deployment"
        for c in o["spec"]["template"]["spec"]["containers"]
    }
    assert images == {
        f"registry.dev/tollgate/{module.replace('_', '-')}:abc1234@sha256:{'0' * 64}"
        for module, _ in facts.services.values()
    }
    for obj in objects:
        kubernetes_validate.validate(obj, "1.35.0", strict=True)
    replicas = {o["spec"].get("replicas") for o in objects if o["kind"] == "Deployment"}
    if profile == "dev":
        assert replicas == {1}
    if profile == "prod":
        assert not [o for o in objects if o["kind"] == "StatefulSet"]  # managed stores
        assert [o for o in objects if o["kind"] == "NetworkPolicy"]
