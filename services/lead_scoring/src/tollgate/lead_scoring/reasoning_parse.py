"""Reading Claude's lead analysis: JSON when it followed the instructions, raw text when not."""

from __future__ import annotations

import json
import math
import re
from dataclasses import dataclass, field
from typing import Any

MAX_NARRATIVE_CHARS = 2_000
MAX_INSIGHTS = 8
MAX_INSIGHT_CHARS = 300
MAX_ACTION_CHARS = 300

_FENCE = re.compile(r"```(?:json)?\s*(.*?)```", re.DOTALL | re.IGNORECASE)


@dataclass(frozen=True)
class ParsedReasoning:
    narrative: str
    insights: tuple[str, ...] = field(default_factory=tuple)
    next_best_action: str = ""
    # Claude's 0..100 reading of how likely the lead is to transact; None when it gave none.
    score: float | None = None


def _clip(text: str, limit: int) -> str:
    text = text.strip()
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "…"


def _json_object(text: str) -> dict[str, Any] | None:
    candidates = [m.group(1) for m in _FENCE.finditer(text)]
    start, end = text.find("{"), text.rfind("}")
    if start != -1 and end > start:
        candidates.append(text[start : end + 1])
    for candidate in candidates:
        try:
            value = json.loads(candidate)
        except json.JSONDecodeError:
            continue
        if isinstance(value, dict):
            return value
    return None


def _score(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        number = float(value)
    except ValueError:
        return None
    if not math.isfinite(number):
        return None
    return min(100.0, max(0.0, number))


def _insights(value: Any) -> tuple[str, ...]:
    if isinstance(value, str):
        value = [value]
    if not isinstance(value, list):
        return ()
    items = [_clip(str(item), MAX_INSIGHT_CHARS) for item in value if str(item).strip()]
    return tuple(items[:MAX_INSIGHTS])


def parse_reasoning(text: str) -> ParsedReasoning:
    data = _json_object(text)
    if data is None:
        return ParsedReasoning(narrative=_clip(text, MAX_NARRATIVE_CHARS))
    narrative = data.get("narrative", data.get("summary", ""))
    action = data.get("next_best_action", "")
    return ParsedReasoning(
        narrative=_clip(narrative if isinstance(narrative, str) else "", MAX_NARRATIVE_CHARS),
        insights=_insights(data.get("insights")),
        next_best_action=_clip(action if isinstance(action, str) else "", MAX_ACTION_CHARS),
        score=_score(data.get("score")),
    )
