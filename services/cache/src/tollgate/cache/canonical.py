"""The canonical key of a request: SHA-256 over a canonical JSON form of what changes the answer.

Two requests get the same key exactly when Claude would be asked the same thing for the same
tenant. So the form keeps everything the model sees or is steered by (model, system, messages,
tools, tool choice, sampling parameters, stop sequences, the task, its template version and the
template variables rendered into it), the tenant, and the contact scope when the caller says the
answer is built from that contact's data; it drops what only changes cost or bookkeeping
(cache_control breakpoints, request and trace ids, API key, conversation id, tags).

Text is content: no whitespace, case or Unicode normalisation is applied to any text. What is
normalised is only encodings that mean the same to the API: JSON object key order (Struct),
an unset tool_choice or input object versus its default, the order and repetition of stop
sequences, and the letter case of an image's media type.
"""

from __future__ import annotations

import hashlib
import json
import math
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from google.protobuf import struct_pb2

from tollgate.v1 import common_pb2

# Bumped whenever the canonical form changes, so old entries are simply never found again.
# 2: template variables and the contact scope joined the key.
KEY_FORMAT_VERSION = 2

KEY_LENGTH = 64  # hex digits of a SHA-256

# Every field of the request messages, by whether it is part of the key. A test checks that
# this covers each field of common.proto, so a new field cannot slip past the key unnoticed.
KEYED_FIELDS: dict[str, frozenset[str]] = {
    "ClaudeRequest": frozenset(
        {
            "model",
            "system",
            "messages",
            "tools",
            "tool_choice",
            "max_tokens",
            "temperature",
            "top_p",
            "top_k",
            "stop_sequences",
        }
    ),
    "Message": frozenset({"role", "content"}),
    "ContentBlock": frozenset({"text", "image", "tool_use", "tool_result"}),
    "TextBlock": frozenset({"text"}),
    "ImageBlock": frozenset({"media_type", "data"}),
    "ToolUseBlock": frozenset({"id", "name", "input"}),
    "ToolResultBlock": frozenset({"tool_use_id", "content", "is_error"}),
    "Tool": frozenset({"name", "description", "input_schema"}),
    "ToolChoice": frozenset({"type", "name", "disable_parallel_tool_use"}),
}
UNKEYED_FIELDS: dict[str, frozenset[str]] = {
    # Prompt-cache breakpoints change what a call costs, never what it answers.
    "ContentBlock": frozenset({"cache_control"}),
    "Tool": frozenset({"cache_control"}),
}

_ROLES = {common_pb2.ROLE_USER: "user", common_pb2.ROLE_ASSISTANT: "assistant"}
_TOOL_CHOICES = {
    common_pb2.TOOL_CHOICE_TYPE_UNSPECIFIED: "auto",
    common_pb2.TOOL_CHOICE_TYPE_AUTO: "auto",
    common_pb2.TOOL_CHOICE_TYPE_ANY: "any",
    common_pb2.TOOL_CHOICE_TYPE_TOOL: "tool",
    common_pb2.TOOL_CHOICE_TYPE_NONE: "none",
}


class MalformedRequestError(ValueError):
    """The request cannot be put in canonical form; `field` is the path of the culprit."""

    def __init__(self, message: str, field: str) -> None:
        super().__init__(message)
        self.field = field


@dataclass(frozen=True)
class Rendering:
    """What shapes the prompt besides the request and its template version: the variables
    rendered into the template, and the contact whose data the template reads."""

    template_variables: Mapping[str, str] = field(default_factory=dict)
    contact_scope: str = ""


def cache_key(
    tenant_id: str,
    task: str,
    template_version: str,
    request: common_pb2.ClaudeRequest,
    rendering: Rendering | None = None,
) -> str:
    """The hex SHA-256 key of `request` for `tenant_id`."""
    form = canonical_bytes(tenant_id, task, template_version, request, rendering)
    return hashlib.sha256(form).hexdigest()


def canonical_bytes(
    tenant_id: str,
    task: str,
    template_version: str,
    request: common_pb2.ClaudeRequest,
    rendering: Rendering | None = None,
) -> bytes:
    rendering = rendering or Rendering()
    form = {
        "v": KEY_FORMAT_VERSION,
        "tenant": tenant_id,
        "task": task,
        "template_version": template_version,
        # A dict: JSON sorts its keys, so the order the caller sent them in does not matter.
        "template_variables": dict(rendering.template_variables),
        "contact_scope": rendering.contact_scope,
        "request": canonical_request(request),
    }
    text = json.dumps(form, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return text.encode("utf-8")


def canonical_request(request: common_pb2.ClaudeRequest) -> dict[str, Any]:
    return {
        "model": request.model,
        "system": [_block(b, f"system[{i}]") for i, b in enumerate(request.system)],
        "messages": [_message(m, f"messages[{i}]") for i, m in enumerate(request.messages)],
        "tools": [_tool(t) for t in request.tools],
        "tool_choice": _tool_choice(request),
        "max_tokens": request.max_tokens,
        # Unset stays distinct from any value: the task template may fill in its own default.
        "temperature": _float(request.temperature) if request.HasField("temperature") else None,
        "top_p": _float(request.top_p) if request.HasField("top_p") else None,
        "top_k": request.top_k if request.HasField("top_k") else None,
        # Generation stops at the first of any of them: order and repeats do not matter.
        "stop_sequences": sorted(set(request.stop_sequences)),
    }


def _message(message: common_pb2.Message, path: str) -> dict[str, Any]:
    role = _ROLES.get(message.role)
    if role is None:
        raise MalformedRequestError(f"{path}.role must be user or assistant", f"{path}.role")
    content = [_block(b, f"{path}.content[{i}]") for i, b in enumerate(message.content)]
    return {"role": role, "content": content}


def _block(block: common_pb2.ContentBlock, path: str) -> dict[str, Any]:
    kind = block.WhichOneof("block")
    if kind == "text":
        return {"type": "text", "text": block.text.text}
    if kind == "image":
        return {
            "type": "image",
            "media_type": block.image.media_type.lower(),
            # A digest stands in for the bytes: as distinctive, and far shorter to serialise.
            "data_sha256": hashlib.sha256(block.image.data).hexdigest(),
        }
    if kind == "tool_use":
        use = block.tool_use
        return {"type": "tool_use", "id": use.id, "name": use.name, "input": _struct(use.input)}
    if kind == "tool_result":
        result = block.tool_result
        return {
            "type": "tool_result",
            "tool_use_id": result.tool_use_id,
            "content": [_block(b, f"{path}.content[{i}]") for i, b in enumerate(result.content)],
            "is_error": result.is_error,
        }
    raise MalformedRequestError(f"{path} is an empty content block", path)


def _tool(tool: common_pb2.Tool) -> dict[str, Any]:
    return {
        "name": tool.name,
        "description": tool.description,
        "input_schema": _struct(tool.input_schema),
    }


def _tool_choice(request: common_pb2.ClaudeRequest) -> dict[str, Any]:
    choice = request.tool_choice
    kind = _TOOL_CHOICES.get(choice.type)
    if kind is None:
        raise MalformedRequestError(
            f"tool_choice.type {choice.type} is not a known tool choice", "tool_choice.type"
        )
    form: dict[str, Any] = {
        "type": kind,
        "disable_parallel_tool_use": choice.disable_parallel_tool_use,
    }
    # The name only means something when a specific tool is forced.
    if kind == "tool":
        form["name"] = choice.name
    return form


def _struct(struct: struct_pb2.Struct) -> dict[str, Any]:
    # An unset Struct reads as empty, which is what the API takes an absent object to mean.
    return {key: _value(value) for key, value in struct.fields.items()}


def _value(value: struct_pb2.Value) -> Any:
    kind = value.WhichOneof("kind")
    if kind == "number_value":
        return _float(value.number_value)
    if kind == "string_value":
        return value.string_value
    if kind == "bool_value":
        return value.bool_value
    if kind == "struct_value":
        return _struct(value.struct_value)
    if kind == "list_value":
        return [_value(item) for item in value.list_value.values]
    return None


def _float(number: float) -> float | str:
    if math.isnan(number) or math.isinf(number):
        # JSON has no spelling for these; a tagged string keeps them distinct and deterministic.
        return f"float:{number!r}"
    # -0.0 and 0.0 are the same parameter.
    return number + 0.0
