"""The code a benchmark runs and how it names it: a checkout's interpreter (its .venv, so its
code), and its commit, marked dirty when its working tree differs from it (a before/after run
with `--baseline` names both sides so)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def checkout_python(checkout: Path) -> str:
    """The interpreter of a checkout's virtualenv, which runs that checkout's code."""
    return str(checkout / ".venv" / "bin" / "python")


def checkout_name(checkout: Path, side: str = "baseline") -> str:
    """E.g. "baseline 71afce1" or "this checkout b1fa848-dirty"."""
    commit = subprocess.run(
        ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{side} {commit or checkout.name}"
