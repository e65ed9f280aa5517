"""Packed items: one tool entry per listed item, decided by that item's text alone."""

from __future__ import annotations

from typing import Any

import anthropic
import pytest

from tollgate.emulator import EmulatorConfig

LABELS = ["buyer", "seller", "renter", "spam"]
TOOL = {
    "name": "record_answers",
    "description": "One answer per item.",
    "input_schema": {
        "type": "object",
        "properties": {
            "answers": {
                "type": "array",
                "items": {
                    "type": "object",
                    "properties": {
                        "item_id": {"type": "string"},
                        "label": {"type": "string", "enum": LABELS},
                    },
                    "required": ["item_id", "label"],
                },
            }
        },
        "required": ["answers"],
    },
}
TEXTS = [
    "Looking for a two-bedroom condo near Lakeview under 400k.",
    "As the seller, I want to list our house on Elm Street this spring.",
    "Any apartments to rent near the university?",
    "Call me about my 3-bed in Cedar Park, I might sell it.",
    "Cheap watches, click here.",
]


def _packed(items: list[tuple[str, str]]) -> str:
    listed = "\n".join(f'<item id="{i}">{text}</item>' for i, text in items)
    return f"Classify each item.\n{listed}"


async def _answers(client: anthropic.AsyncAnthropic, items: list[tuple[str, str]]) -> Any:
    message = await client.messages.create(
        model="claude-haiku-5-5",
        max_tokens=1024,
        system="Label each CRM note.",
        tools=[TOOL],  # type: ignore[list-item]
        tool_choice={"type": "tool", "name": "record_answers"},
        messages=[{"role": "user", "content": _packed(items)}],
    )
    call = next(block for block in message.content if block.type == "tool_use")
    return {entry["item_id"]: entry["label"] for entry in call.input["answers"]}  # type: ignore[index]


async def test_each_item_gets_the_same_label_packed_or_alone(
    client: anthropic.AsyncAnthropic,
) -> None:
    items = [(f"i{n}", text) for n, text in enumerate(TEXTS)]
    packed = await _answers(client, items)
    alone: dict[str, str] = {}
    for item_id, text in items:
        alone.update(await _answers(client, [(f"other-{item_id}", text)]))
    assert list(packed) == [item_id for item_id, _ in items]
    assert {f"other-{k}": v for k, v in packed.items()} == alone
    assert set(packed.values()) <= set(LABELS)
    # A label the text names is the one chosen.
    assert packed["i1"] == "seller"


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig(
        scripted_answers={"scripted-landlord": '{"label": "landlord"}', "scripted-gap": "null"}
    )


async def test_scripted_items_get_a_fixed_entry_or_none(client: anthropic.AsyncAnthropic) -> None:
    texts = [*TEXTS[:2], "A scripted-landlord note.", "A scripted-gap note."]
    packed = await _answers(client, [(f"i{n}", text) for n, text in enumerate(texts)])
    assert packed["i2"] == "landlord"
    assert set(packed) == {"i0", "i1", "i2"}
