"""Tool arguments for a prompt that packs several items into one call.

A packed prompt lists its items in the last user message as ``<item id="ID">TEXT</item>``
elements and offers a tool whose input has an array of objects keyed by ``item_id``. The emulator
answers with one entry per listed item, in order. Each entry's values depend on that item's text
alone (a generator seeded by the text's hash; an ``enum`` value the text names wins, as a reader
would pick it), never on the other items, the ids or the instructions, so an item gets the same
answer packed with others as asked alone.

A config's ``scripted_answers`` apply per item: when an item's text contains a phrase, its
scripted text, read as JSON, decides the entry -- an object overrides the entry's fields, and
``null`` leaves the item out of the answer (a missing answer).
"""

from __future__ import annotations

import hashlib
import json
import random
import re
from collections.abc import Callable, Mapping
from typing import Any

from tollgate.emulator.tool_inputs import object_for, value_for

ITEM_ID = "item_id"
_ITEM = re.compile(r'<item id="([^"<>]*)">(.*?)</item>', re.DOTALL)
_OMIT = object()

Script = Callable[[str], str | None]


def listed_items(text: str) -> list[tuple[str, str]]:
    """The (id, text) of every item element of a message, in order."""
    return [(match.group(1), match.group(2).strip()) for match in _ITEM.finditer(text)]


def per_item_property(schema: Mapping[str, Any]) -> tuple[str, Mapping[str, Any]] | None:
    """The name and item schema of the input's array of per-item objects, if it has one."""
    properties = schema.get("properties")
    if not isinstance(properties, Mapping):
        return None
    for name, prop in properties.items():
        if not isinstance(prop, Mapping) or prop.get("type") != "array":
            continue
        entry = prop.get("items")
        if isinstance(entry, Mapping) and ITEM_ID in (entry.get("properties") or {}):
            return str(name), entry
    return None


def _named_enum_value(schema: Any, text: str) -> Any:
    if not isinstance(schema, Mapping) or not isinstance(schema.get("enum"), list):
        return _OMIT
    lowered = text.lower()
    for value in schema["enum"]:
        if isinstance(value, str) and re.search(rf"\b{re.escape(value.lower())}\b", lowered):
            return value
    return _OMIT


def _entry(schema: Mapping[str, Any], item_id: str, text: str) -> dict[str, Any]:
    rng = random.Random(hashlib.sha256(text.encode()).digest())
    properties = schema.get("properties") or {}
    required = [str(n) for n in schema.get("required") or [] if n != ITEM_ID]
    entry: dict[str, Any] = {ITEM_ID: item_id}
    for name in required:
        prop = properties.get(name)
        named = _named_enum_value(prop, text)
        if named is not _OMIT:
            entry[name] = named
        elif isinstance(prop, Mapping) and prop.get("type") == "object":
            entry[name] = object_for(prop, rng, text.split()[:3])
        else:
            entry[name] = value_for(prop, name, rng, text.split()[:3])
    return entry


def _scripted(entry: dict[str, Any], text: str, script: Script | None) -> Any:
    scripted = script(text) if script is not None else None
    if scripted is None:
        return entry
    try:
        decided = json.loads(scripted)
    except ValueError:
        return entry
    if decided is None:
        return _OMIT
    if isinstance(decided, Mapping):
        return {**entry, **decided, ITEM_ID: entry[ITEM_ID]}
    return entry


def packed_arguments(
    schema: Mapping[str, Any],
    message: str,
    rng: random.Random,
    words: list[str],
    script: Script | None = None,
) -> dict[str, Any] | None:
    """The tool input for a packed prompt, or None when the tool or the message is not one."""
    found = per_item_property(schema)
    items = listed_items(message)
    if found is None or not items:
        return None
    name, entry_schema = found
    entries = [_scripted(_entry(entry_schema, i, t), t, script) for i, t in items]
    arguments = object_for(schema, rng, words)
    arguments[name] = [entry for entry in entries if entry is not _OMIT]
    return arguments
