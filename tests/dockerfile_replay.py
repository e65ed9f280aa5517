"""The repository's Dockerfile, read and replayed without a Docker engine.

The chart tests (tests/chart/test_chart_images.py) and the image benchmark (bench/delivery.py)
both replay a service's build: the files the Dockerfile copies go into an empty folder, then the
service stage's RUN steps run there with SERVICE set, into a virtual environment of their own.
The deps stage only fills uv's cache; the machine's own cache stands in for it.
"""

from __future__ import annotations

import os
import shlex
import shutil
import subprocess
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
DOCKERFILE = REPO / "Dockerfile"


@dataclass
class Stage:
    name: str
    base: str
    instructions: list[tuple[str, str]] = field(default_factory=list)


class ReplayError(Exception):
    """A replayed RUN step failed; the message holds the step and its stderr."""


def parse_dockerfile(path: Path = DOCKERFILE) -> list[Stage]:
    """Instructions per stage, with line continuations joined and comments dropped."""
    logical: list[str] = []
    pending = ""
    for raw in path.read_text().splitlines():
        line = raw.strip()
        if line.startswith("#") or (not pending and not line):
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


def env_of(stage: Stage) -> dict[str, str]:
    env: dict[str, str] = {}
    for keyword, rest in stage.instructions:
        if keyword == "ENV":
            for word in shlex.split(rest):
                name, _, value = word.partition("=")
                env[name] = value
    return env


def copies(stage: Stage, module: str) -> list[tuple[list[str], str]]:
    """(sources, destination) of the stage's COPY instructions from the main context, as the
    build of `module` (--build-arg SERVICE=module) sees them."""
    result = []
    for keyword, rest in stage.instructions:
        if keyword != "COPY" or "--from=" in rest:
            continue
        words = [
            w.replace("${SERVICE}", module) for w in shlex.split(rest) if not w.startswith("--")
        ]
        result.append((words[:-1], words[-1]))
    return result


def replay_copies(stage: Stage, module: str, context: Path) -> None:
    for sources, destination in copies(stage, module):
        for source in sources:
            target = context / destination
            if destination.endswith("/"):
                target = target / Path(source).name
            target.parent.mkdir(parents=True, exist_ok=True)
            if (REPO / source).is_dir():
                shutil.copytree(REPO / source, target, ignore=shutil.ignore_patterns("__pycache__"))
            else:
                shutil.copy2(REPO / source, target)


def replay_service_build(
    module: str, workdir: Path, env_overrides: Mapping[str, str] | None = None
) -> Path:
    """The service stage of `module`'s image, replayed under `workdir`; its /opt/venv."""
    stages = {stage.name: stage for stage in parse_dockerfile()}
    context, venv = workdir / "src", workdir / "venv"
    context.mkdir(parents=True)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "UV_CACHE_DIR")}
    env |= {k: v for k, v in env_of(stages["deps"]).items() if k != "UV_CACHE_DIR"}
    env |= env_of(stages["build"]) | dict(env_overrides or {})
    env |= {"SERVICE": module, "UV_PROJECT_ENVIRONMENT": str(venv), "PATH": os.environ["PATH"]}
    replay_copies(stages["deps"], module, context)
    for keyword, rest in stages["build"].instructions:
        if keyword == "COPY":
            replay_copies(Stage("copy", "", [(keyword, rest)]), module, context)
        elif keyword == "RUN":
            result = subprocess.run(
                ["sh", "-c", rest.replace("/opt/venv", str(venv))],
                cwd=context,
                env=env,
                capture_output=True,
                text=True,
                timeout=600,
                check=False,
            )
            if result.returncode != 0:
                raise ReplayError(f"{rest}\n{result.stderr}")
    return venv
