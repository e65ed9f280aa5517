"""Scoring one optimized conversation against its labels (see `bench.dialogues`).

- kept: a current fact (one no later correction replaced) whose span is still in the request,
  verbatim, anywhere a model reads it (system prompt with the note, turns, tool results);
- stale: a correction whose old value the request presents as current, i.e. the old span is
  present and either the current span is not, or the old span's last appearance comes after the
  current span's last appearance in reading order (system prompt first, then the turns). A note
  line that shows the old value before the current one, or a turn that quotes it before the
  correction, does not count: the later statement is the one a reader takes as current.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any


def block_texts(block: dict[str, Any]) -> Iterable[str]:
    if block.get("type") == "text":
        yield block["text"]
    elif block.get("type") == "tool_result":
        for inner in block.get("content", []):
            yield from block_texts(inner)


def reading_text(params: dict[str, Any]) -> str:
    """Everything a model reads in a request, in order, as one string."""
    parts = [block.get("text", "") for block in params.get("system") or []]
    for message in params["messages"]:
        for block in message["content"]:
            parts.extend(block_texts(block))
    return "\n".join(parts)


@dataclass
class Score:
    facts: int = 0
    kept: int = 0
    corrections: int = 0
    stale: int = 0
    stale_conversations: int = 0

    def add(self, other: Score) -> None:
        self.facts += other.facts
        self.kept += other.kept
        self.corrections += other.corrections
        self.stale += other.stale
        self.stale_conversations += int(other.stale > 0)


def score(conversation: dict[str, Any], params: dict[str, Any]) -> Score:
    text = reading_text(params)
    result = Score()
    for fact in conversation["facts"]:
        if fact["superseded"]:
            continue
        result.facts += 1
        result.kept += int(fact["text"] in text)
    for correction in conversation["corrections"]:
        result.corrections += 1
        old_at = text.rfind(correction["old"])
        new_at = text.rfind(correction["new"])
        result.stale += int(old_at >= 0 and (new_at < 0 or old_at > new_at))
    return result
