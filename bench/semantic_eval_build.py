"""Builds the semantic-cache evaluation set from its templates.

    uv run python -m bench.semantic_eval_build   # rewrites bench/data/semantic_eval_pairs.jsonl

bench/data/semantic_eval_templates.json holds intents of a real-estate CRM, each with paraphrase
templates over typed slots (price, bedrooms, city, lead, address, date...), and for some intents
"flipped" templates that negate the question or reverse its comparison. Pairs are drawn with a
fixed seed by these rules (a pair is a cached question and a new question):

- paraphrase (should hit): one slot assignment, two different templates of the intent;
- near-miss per slot (must not hit): the same templates and assignment except one slot takes
  another value; every other near-miss keeps the cached wording exactly, the rest also change
  the wording;
- negation / comparison flip (must not hit): a template against a flipped template of the same
  assignment, alternately the flip of the same template and of another one;
- other question (must not hit): two different intents that share slots, same assignment;
- every `lowercase_every`-th pair is lower-cased on both sides, as people type in chat.

Values are rendered in several surface forms (`{price:k}` "$500k", `{price:full}` "$500,000",
`{beds:word}` "three"...), so paraphrases also differ in how they write the same value.
"""

from __future__ import annotations

import json
import random
import re
import string
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data"
TEMPLATES = DATA / "semantic_eval_templates.json"
PAIRS = DATA / "semantic_eval_pairs.jsonl"

_NUMBER_WORDS = ["zero", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine"]


@dataclass(frozen=True)
class Pair:
    cached: str
    asked: str
    should_hit: bool
    # "paraphrase", a slot's category ("other price", "city"...), "negation", "comparison",
    # or "other question".
    category: str
    intent: str
    lowercase: bool


class Value:
    """A slot value that renders itself in the surface form a template asks for."""

    def __init__(self, slot: str, raw: Any) -> None:
        self.slot = slot
        self.raw = raw

    def __eq__(self, other: object) -> bool:
        return isinstance(other, Value) and (self.slot, self.raw) == (other.slot, other.raw)

    def __hash__(self) -> int:
        return hash((self.slot, self.raw))

    def __format__(self, spec: str) -> str:
        raw = self.raw
        if self.slot in ("price", "rent"):
            if spec == "k":
                return f"${raw / 1_000_000:g}M" if raw >= 1_000_000 else f"${raw // 1000}k"
            return f"${raw:,}"
        if self.slot == "beds" and spec == "word":
            return _NUMBER_WORDS[raw]
        if self.slot == "hour":
            twelve = raw % 12 or 12
            half = "pm" if raw >= 12 else "am"
            return f"{twelve}:00 {half.upper()}" if spec == "clock" else f"{twelve}{half}"
        if self.slot == "sqft":
            return f"{raw:,}" if spec == "comma" else str(raw)
        if isinstance(raw, float):
            return f"{raw:g}"
        return str(raw)


def slots_of(template: str) -> list[str]:
    return [field for _, field, _, _ in string.Formatter().parse(template) if field]


def render(template: str, assignment: dict[str, Value]) -> str:
    return template.format(**assignment)


def build(spec: dict[str, Any]) -> list[Pair]:
    rng = random.Random(spec["seed"])
    values: dict[str, list[Any]] = spec["values"]
    categories: dict[str, str] = spec["categories"]
    counts: dict[str, int] = spec["counts"]
    intents = {intent["id"]: intent for intent in spec["intents"]}

    def assign(slots: set[str]) -> dict[str, Value]:
        return {slot: Value(slot, rng.choice(values[slot])) for slot in sorted(slots)}

    def intent_slots(intent: dict[str, Any]) -> set[str]:
        return {s for t in intent["paraphrases"] for s in slots_of(t)}

    def other_index(count: int, index: int) -> int:
        return rng.choice([i for i in range(count) if i != index])

    raw_pairs: list[tuple[str, str, bool, str, str]] = []
    for intent in spec["intents"]:
        templates: list[str] = intent["paraphrases"]
        slots = intent_slots(intent)
        for _ in range(counts["assignments_per_intent"]):
            assignment = assign(slots)
            count = len(templates)
            ordered = [(i, j) for i in range(count) for j in range(count) if i != j]
            for i, j in rng.sample(ordered, counts["positive_pairs_per_assignment"]):
                raw_pairs.append(
                    (
                        render(templates[i], assignment),
                        render(templates[j], assignment),
                        True,
                        "paraphrase",
                        intent["id"],
                    )
                )
        for slot in sorted(slots):
            for k in range(counts["near_misses_per_slot"]):
                assignment = assign(slots)
                changed = dict(assignment)
                others = [v for v in values[slot] if v != assignment[slot].raw]
                changed[slot] = Value(slot, rng.choice(others))
                i = rng.randrange(len(templates))
                j = i if k % 2 == 0 else other_index(len(templates), i)
                raw_pairs.append(
                    (
                        render(templates[i], assignment),
                        render(templates[j], changed),
                        False,
                        categories[slot],
                        intent["id"],
                    )
                )
        for kind, flipped in sorted(intent.get("flips", {}).items()):
            for k in range(counts["flips_per_intent"]):
                assignment = assign(slots)
                i = rng.randrange(len(templates))
                j = i if k % 2 == 0 else other_index(len(flipped), i)
                raw_pairs.append(
                    (
                        render(templates[i], assignment),
                        render(flipped[j], assignment),
                        False,
                        kind,
                        intent["id"],
                    )
                )
    for first, second in spec["other_question_pairs"]:
        a, b = intents[first], intents[second]
        for _ in range(counts["pairs_per_other_question"]):
            assignment = assign(intent_slots(a) | intent_slots(b))
            raw_pairs.append(
                (
                    render(rng.choice(a["paraphrases"]), assignment),
                    render(rng.choice(b["paraphrases"]), assignment),
                    False,
                    "other question",
                    f"{first}/{second}",
                )
            )

    pairs = []
    for index, (cached, asked, should_hit, category, intent_id) in enumerate(raw_pairs):
        lowercase = (index + 1) % counts["lowercase_every"] == 0
        if lowercase:
            cached, asked = cached.lower(), asked.lower()
        pairs.append(Pair(cached, asked, should_hit, category, intent_id, lowercase))
    _check(pairs)
    return pairs


def _check(pairs: list[Pair]) -> None:
    for pair in pairs:
        for text in (pair.cached, pair.asked):
            if re.search(r"[{}]", text):
                raise ValueError(f"unrendered slot in {text!r}")
        if not pair.should_hit and pair.cached == pair.asked:
            raise ValueError(f"a must-not-hit pair has identical questions: {pair.cached!r}")


def load_pairs(path: Path = PAIRS) -> list[Pair]:
    with path.open() as stream:
        return [Pair(**json.loads(line)) for line in stream if line.strip()]


def main() -> None:
    spec = json.loads(TEMPLATES.read_text())
    pairs = build(spec)
    with PAIRS.open("w") as stream:
        for pair in pairs:
            stream.write(json.dumps(asdict(pair)) + "\n")
    positives = sum(p.should_hit for p in pairs)
    print(f"wrote {len(pairs)} pairs ({positives} should hit, {len(pairs) - positives} must not)")


if __name__ == "__main__":
    main()
