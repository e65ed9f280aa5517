"""Saying whether a request met its token target, and if not, by how much and why.

A target is met whenever dropping turns can meet it: the planner drops whole chunks, then single
exchanges, up to the verbatim tail. What can never go is the frame (tools and system prompt) and
the last `keep_last_turns` turns, which are sent as they are; the facts note of what was dropped
comes on top. A miss names whichever of these filled the target.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class TargetReport:
    met: bool = True
    missed_by: int = 0
    explanation: str = ""


@dataclass(frozen=True)
class FixedParts:
    """Tokens of what the optimizer cannot remove from a request."""

    frame: int
    tail: int
    tail_turns: int
    note: int
    # False when the policy allows no dropping at all (no `keep_recent`).
    can_drop: bool


def report_target(target: int, tokens: int, fixed: FixedParts) -> TargetReport:
    if not target or tokens <= target:
        return TargetReport()
    missed = tokens - target
    if not fixed.can_drop:
        reason = "the policy's strategies do not include keep_recent, so no turn may be dropped"
    elif fixed.frame + fixed.tail > target:
        reason = (
            f"the tools and system prompt ({fixed.frame} tokens) and the last "
            f"{fixed.tail_turns} turns, always sent as they are ({fixed.tail} tokens), "
            f"already take {fixed.frame + fixed.tail}"
        )
    else:
        reason = (
            f"with every older turn dropped, the facts note that keeps what they said takes "
            f"{fixed.note} tokens on top of the tools, system prompt and last "
            f"{fixed.tail_turns} turns ({fixed.frame + fixed.tail} tokens)"
        )
    return TargetReport(
        False,
        missed,
        f"The target of {target} tokens is out of reach by {missed} tokens: {reason}.",
    )
