"""How a benchmark names the code it ran: a checkout's commit, marked dirty when its working tree
differs from it (a before/after run with `--baseline` names both sides so)."""

from __future__ import annotations

import subprocess
from pathlib import Path


def checkout_name(checkout: Path, side: str = "baseline") -> str:
    """E.g. "baseline 71afce1" or "this checkout b1fa848-dirty"."""
    commit = subprocess.run(
        ["git", "-C", str(checkout), "describe", "--always", "--dirty"],
        capture_output=True,
        text=True,
        check=False,
    ).stdout.strip()
    return f"{side} {commit or checkout.name}"
