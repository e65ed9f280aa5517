"""What the images carry: build context and installed environment per service image, as ratios
against the whole repository and the full development environment, measured in one run.

    uv run python -m bench.delivery

Per service it replays the image's service stage without a Docker engine
(tests/dockerfile_replay.py: the files the Dockerfile copies, then its `uv sync` steps with
SERVICE set) into a temporary directory and measures the resulting environment; the baseline is
the workspace's own .venv (every package, development tools included). The build context is
measured by applying .dockerignore to the working tree; its baseline is the working tree without
.dockerignore.
"""

from __future__ import annotations

import os
import re
import sys
import tempfile
from dataclasses import dataclass
from pathlib import Path

from tests.dockerfile_replay import replay_service_build

REPO = Path(__file__).resolve().parent.parent


@dataclass(frozen=True)
class Size:
    files: int
    bytes: int

    @property
    def mib(self) -> float:
        return self.bytes / (1024 * 1024)


def measure(paths: list[Path]) -> Size:
    files = total = 0
    for path in paths:
        if path.is_symlink() or not path.is_file():
            continue
        files += 1
        total += path.stat().st_size
    return Size(files, total)


def tree(root: Path) -> list[Path]:
    return [Path(d) / f for d, _, names in os.walk(root) for f in names]


def dockerignore_rules() -> list[tuple[bool, re.Pattern[str]]]:
    rules = []
    for raw in (REPO / ".dockerignore").read_text().splitlines():
        line = raw.strip()
        if not line or line.startswith("#"):
            continue
        exception = line.startswith("!")
        glob = line.lstrip("!").strip("/")
        regex = (
            re.escape(glob)
            .replace(r"\*\*/", "(?:.*/)?")
            .replace(r"\*\*", ".*")
            .replace(r"\*", "[^/]*")
            .replace(r"\?", "[^/]")
            .replace(r"\[", "[")
            .replace(r"\]", "]")
        )
        rules.append((exception, re.compile(regex + "$")))
    return rules


def in_context(relative: str, rules: list[tuple[bool, re.Pattern[str]]]) -> bool:
    parts = relative.split("/")
    included = True
    for exception, pattern in rules:
        if any(pattern.match("/".join(parts[:n])) for n in range(1, len(parts) + 1)):
            included = exception
    return included


def build_context() -> tuple[Size, Size]:
    everything = [p for p in tree(REPO) if ".git" not in p.relative_to(REPO).parts[:1]]
    rules = dockerignore_rules()
    sent = [p for p in everything if in_context(str(p.relative_to(REPO)), rules)]
    return measure(sent), measure(everything)


def image_environment(module: str, workdir: Path) -> Size:
    """Replays the Dockerfile's service stage for `module` and measures its /opt/venv."""
    return measure(tree(replay_service_build(module, workdir)))


def main() -> int:
    modules = sorted(p.parent.name for p in (REPO / "services").glob("*/pyproject.toml"))
    baseline = measure(tree(REPO / ".venv"))
    sent, everything = build_context()
    print("## Build context (.dockerignore)\n")
    print("| context | files | MiB | share of the working tree |")
    print("|---|---:|---:|---:|")
    print(f"| working tree, no .dockerignore | {everything.files} | {everything.mib:.1f} | 1.000 |")
    print(
        f"| sent with .dockerignore | {sent.files} | {sent.mib:.1f} | "
        f"{sent.bytes / everything.bytes:.3f} |"
    )
    print("\n## Installed environment per image (/opt/venv)\n")
    print("| image | files | MiB | share of the full dev environment |")
    print("|---|---:|---:|---:|")
    print(f"| full dev environment (.venv) | {baseline.files} | {baseline.mib:.1f} | 1.000 |")
    for module in modules:
        with tempfile.TemporaryDirectory(prefix=f"tollgate-bench-{module}-") as workdir:
            size = image_environment(module, Path(workdir))
        print(
            f"| tollgate/{module.replace('_', '-')} | {size.files} | {size.mib:.1f} | "
            f"{size.bytes / baseline.bytes:.3f} |"
        )
    return 0


if __name__ == "__main__":
    sys.exit(main())
