"""Plausible tool arguments generated from a tool's JSON schema.

Tool-using code in Tollgate validates and dispatches tool calls, so an emulated
``tool_use`` must carry every required property with a value of the declared
type. Values are drawn from a seeded generator and from the user's key words,
so the same prompt always yields the same arguments.
"""

from __future__ import annotations

import random
from collections.abc import Mapping, Sequence
from typing import Any

_NAMES = ("Jordan Lee", "Priya Shah", "Marcus Chen", "Elena Garcia", "Sam Okafor")
_PLACES = ("Riverside", "Maple Heights", "Old Town", "Lakeview", "Cedar Park")
_MAX_DEPTH = 4


def _string_for(
    name: str, schema: Mapping[str, Any], rng: random.Random, words: Sequence[str]
) -> str:
    lowered = name.lower()
    if "email" in lowered:
        person = rng.choice(_NAMES).lower().replace(" ", ".")
        return f"{person}@example.com"
    if "phone" in lowered:
        return f"+1-555-{rng.randint(100, 999):04d}"
    if lowered == "id" or lowered.endswith("_id"):
        return f"{lowered.removesuffix('id').rstrip('_') or 'item'}_{rng.randint(1000, 9999)}"
    if "name" in lowered:
        return rng.choice(_NAMES)
    if any(part in lowered for part in ("city", "location", "address", "neighborhood", "area")):
        return rng.choice(_PLACES)
    if "date" in lowered or schema.get("format") == "date":
        return f"2025-{rng.randint(1, 12):02d}-{rng.randint(1, 28):02d}"
    if words:
        return " ".join(words[:3])
    return f"sample {name}"


def _number_bounds(schema: Mapping[str, Any], name: str) -> tuple[float, float]:
    money = any(part in name.lower() for part in ("budget", "price", "amount", "value"))
    low = float(schema.get("minimum", 100000 if money else 1))
    high = float(schema.get("maximum", 900000 if money else max(low, 10)))
    return low, max(low, high)


def value_for(
    schema: Any, name: str, rng: random.Random, words: Sequence[str], depth: int = 0
) -> Any:
    """A value that satisfies the common parts of a JSON schema (type, enum, bounds)."""
    if not isinstance(schema, Mapping):
        return _string_for(name, {}, rng, words)
    if "enum" in schema and isinstance(schema["enum"], list) and schema["enum"]:
        return rng.choice(schema["enum"])
    if "const" in schema:
        return schema["const"]
    for combinator in ("anyOf", "oneOf", "allOf"):
        options = schema.get(combinator)
        if isinstance(options, list) and options:
            return value_for(options[0], name, rng, words, depth)
    kind = schema.get("type", "string")
    if isinstance(kind, list):
        kind = next((k for k in kind if k != "null"), "string")
    if kind == "integer":
        low, high = _number_bounds(schema, name)
        return rng.randint(int(low), int(high))
    if kind == "number":
        low, high = _number_bounds(schema, name)
        return round(rng.uniform(low, high), 2)
    if kind == "boolean":
        return True
    if kind == "array":
        if depth >= _MAX_DEPTH:
            return []
        count = max(1, int(schema.get("minItems", 1)))
        return [value_for(schema.get("items"), name, rng, words, depth + 1) for _ in range(count)]
    if kind == "object":
        return object_for(schema, rng, words, depth + 1) if depth < _MAX_DEPTH else {}
    if kind == "null":
        return None
    return _string_for(name, schema, rng, words)


def object_for(
    schema: Mapping[str, Any], rng: random.Random, words: Sequence[str], depth: int = 0
) -> dict[str, Any]:
    """An object holding every required property of an object schema."""
    properties = schema.get("properties")
    properties = properties if isinstance(properties, Mapping) else {}
    required = schema.get("required")
    names = [str(n) for n in required] if isinstance(required, list) else []
    return {name: value_for(properties.get(name), name, rng, words, depth) for name in names}
