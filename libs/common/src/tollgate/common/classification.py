"""Classification instructions and items: the checks both the gateway and the orchestrator apply,
and how one item's answer is judged.

Every refusal is INVALID_ARGUMENT with the field and a sentence saying what to change. An answer
is judged on its own: a label must be one of the set; a JSON value must satisfy the caller's
schema (draft 2020-12).
"""

from __future__ import annotations

import json
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from jsonschema import Draft202012Validator
from jsonschema.exceptions import SchemaError

from tollgate.common.errors import invalid_argument
from tollgate.common.token_estimate import canonical_json, estimate_text
from tollgate.v1 import classification_pb2

MAX_ITEMS = 5000
MAX_ITEM_CHARS = 20_000
MAX_PROMPT_CHARS = 8_000
MAX_LABELS = 200
MAX_LABEL_CHARS = 100
MAX_SCHEMA_CHARS = 16_000
MAX_VERSION_CHARS = 64
MAX_ITEMS_PER_CALL = 50
# The JSON framing of one answer entry ({"item_id": "12", "label": ...}) and of a tool call.
ENTRY_OVERHEAD_TOKENS = 12
CALL_OVERHEAD_TOKENS = 64
MAX_SCHEMA_ANSWER_TOKENS = 1024
_ITEM_ID = re.compile(r"^[A-Za-z0-9_.:-]{1,64}$")


@dataclass(frozen=True)
class Verdict:
    """One item's answer: the value to report (a label, or JSON text), or why it is refused."""

    value: str = ""
    error: str = ""

    @property
    def valid(self) -> bool:
        return not self.error


class AnswerRule:
    """What a valid answer for one item is, and the JSON schema of it inside the tool's input."""

    def __init__(self, instructions: classification_pb2.ClassificationInstructions) -> None:
        self.labels: tuple[str, ...] = tuple(instructions.labels.labels)
        self._validator: Draft202012Validator | None = None
        self.schema: dict[str, Any]
        if instructions.WhichOneof("answer") == "json_schema":
            self.schema = json.loads(instructions.json_schema)
            self._validator = Draft202012Validator(self.schema)
        else:
            self.schema = {"type": "string", "enum": list(self.labels)}

    @property
    def field(self) -> str:
        """The entry's field holding the answer."""
        return "result" if self._validator is not None else "label"

    def judge(self, entry: Any) -> Verdict:
        if not isinstance(entry, dict) or self.field not in entry:
            return Verdict(error=f"the answer has no {self.field}")
        answer = entry[self.field]
        if self._validator is None:
            if answer not in self.labels:
                return Verdict(error=f"the label {str(answer)[:80]!r} is not one of the labels")
            return Verdict(value=str(answer))
        problem = next(iter(self._validator.iter_errors(answer)), None)
        if problem is not None:
            where = "/".join(str(part) for part in problem.absolute_path) or "the value"
            return Verdict(
                error=f"the result does not fit the schema at {where}: {problem.message[:200]}"
            )
        return Verdict(value=canonical_json(answer))


def answer_tokens(rule: AnswerRule) -> int:
    """The most one item's answer entry is expected to write."""
    if rule.labels:
        return ENTRY_OVERHEAD_TOKENS + max(estimate_text(label) for label in rule.labels)
    schema_tokens = estimate_text(canonical_json(rule.schema))
    return ENTRY_OVERHEAD_TOKENS + min(MAX_SCHEMA_ANSWER_TOKENS, max(32, schema_tokens))


def call_max_tokens(rule: AnswerRule, count: int, limit: int) -> int:
    """max_tokens of a call answering `count` items: twice what they should need (the estimate
    is not exact, and a cut-off answer loses items), within the output limit."""
    return min(limit, CALL_OVERHEAD_TOKENS + 2 * count * answer_tokens(rule))


def check_instructions(
    instructions: classification_pb2.ClassificationInstructions, where: str = "instructions"
) -> AnswerRule:
    if len(instructions.prompt) > MAX_PROMPT_CHARS:
        raise invalid_argument(
            f"The prompt is {len(instructions.prompt)} characters; at most {MAX_PROMPT_CHARS} "
            "are allowed.",
            f"{where}.prompt",
        )
    if len(instructions.version) > MAX_VERSION_CHARS:
        raise invalid_argument(
            f"The version is longer than {MAX_VERSION_CHARS} characters.", f"{where}.version"
        )
    kind = instructions.WhichOneof("answer")
    if kind is None:
        raise invalid_argument(
            "Say what each item's answer is: a label set (labels) or a JSON schema (json_schema).",
            f"{where}.answer",
        )
    if kind == "labels":
        _check_labels(instructions.labels.labels, f"{where}.labels.labels")
    else:
        _check_schema(instructions.json_schema, f"{where}.json_schema")
    return AnswerRule(instructions)


def _check_labels(labels: Sequence[str], where: str) -> None:
    if not labels:
        raise invalid_argument("The label set is empty; give at least one label.", where)
    if len(labels) > MAX_LABELS:
        raise invalid_argument(
            f"There are {len(labels)} labels; at most {MAX_LABELS} are allowed.", where
        )
    for i, label in enumerate(labels):
        if not label.strip() or len(label) > MAX_LABEL_CHARS:
            raise invalid_argument(
                f"Label {i} is empty or longer than {MAX_LABEL_CHARS} characters.", f"{where}[{i}]"
            )
    if len(set(labels)) != len(labels):
        raise invalid_argument("The labels repeat; give each label once.", where)


def _check_schema(text: str, where: str) -> None:
    if len(text) > MAX_SCHEMA_CHARS:
        raise invalid_argument(
            f"The JSON schema is {len(text)} characters; at most {MAX_SCHEMA_CHARS} are allowed.",
            where,
        )
    try:
        schema = json.loads(text)
    except ValueError as exc:
        raise invalid_argument(f"The JSON schema is not valid JSON: {exc}.", where) from None
    if not isinstance(schema, dict):
        raise invalid_argument("The JSON schema must be a JSON object.", where)
    try:
        Draft202012Validator.check_schema(schema)
    except SchemaError as exc:
        raise invalid_argument(
            f"The JSON schema is not a valid schema: {exc.message[:200]}.", where
        ) from None


def check_items(
    items: Sequence[classification_pb2.ClassificationItem], where: str = "items"
) -> None:
    if not items:
        raise invalid_argument("There are no items to classify.", where)
    if len(items) > MAX_ITEMS:
        raise invalid_argument(
            f"There are {len(items)} items; at most {MAX_ITEMS} are allowed per request. "
            "Split them into several requests.",
            where,
        )
    seen: set[str] = set()
    for i, item in enumerate(items):
        if not _ITEM_ID.match(item.id):
            raise invalid_argument(
                f"Item {i} has the id {item.id[:80]!r}; an id is 1 to 64 letters, digits, "
                "'-', '_', '.' or ':'.",
                f"{where}[{i}].id",
            )
        if item.id in seen:
            raise invalid_argument(f"The item id {item.id!r} repeats.", f"{where}[{i}].id")
        seen.add(item.id)
        if not item.text.strip():
            raise invalid_argument(f"Item {item.id!r} has no text.", f"{where}[{i}].text")
        if len(item.text) > MAX_ITEM_CHARS:
            raise invalid_argument(
                f"Item {item.id!r} is {len(item.text)} characters; at most {MAX_ITEM_CHARS} "
                "are allowed.",
                f"{where}[{i}].text",
            )


def check_max_items_per_call(value: int, where: str = "max_items_per_call") -> None:
    if value > MAX_ITEMS_PER_CALL:
        raise invalid_argument(
            f"max_items_per_call is {value}; at most {MAX_ITEMS_PER_CALL} items go in one call.",
            where,
        )
