"""Conversion between tollgate.v1 messages and the Anthropic Messages API's JSON shape.

The orchestrator sends `request_to_params(...)` to the SDK and turns what comes back into protos
with `response_from_json` / `stream_event_from_json`; the client library goes the other way with
`request_from_params`, so applications can keep writing requests the way the Anthropic docs show.
"""

from __future__ import annotations

import base64
from collections.abc import Iterable, Mapping
from typing import Any

from google.protobuf import json_format, struct_pb2

from tollgate.v1 import common_pb2

_ROLE_TO_JSON = {common_pb2.ROLE_USER: "user", common_pb2.ROLE_ASSISTANT: "assistant"}
_ROLE_FROM_JSON = {v: k for k, v in _ROLE_TO_JSON.items()}
_TTL_TO_JSON = {common_pb2.CACHE_TTL_5M: "5m", common_pb2.CACHE_TTL_1H: "1h"}
_TTL_FROM_JSON = {v: k for k, v in _TTL_TO_JSON.items()}
_TOOL_CHOICE_TO_JSON = {
    common_pb2.TOOL_CHOICE_TYPE_AUTO: "auto",
    common_pb2.TOOL_CHOICE_TYPE_ANY: "any",
    common_pb2.TOOL_CHOICE_TYPE_TOOL: "tool",
    common_pb2.TOOL_CHOICE_TYPE_NONE: "none",
}
_TOOL_CHOICE_FROM_JSON = {v: k for k, v in _TOOL_CHOICE_TO_JSON.items()}
STOP_REASONS = {
    "end_turn": common_pb2.STOP_REASON_END_TURN,
    "max_tokens": common_pb2.STOP_REASON_MAX_TOKENS,
    "stop_sequence": common_pb2.STOP_REASON_STOP_SEQUENCE,
    "tool_use": common_pb2.STOP_REASON_TOOL_USE,
    "pause_turn": common_pb2.STOP_REASON_PAUSE_TURN,
    "refusal": common_pb2.STOP_REASON_REFUSAL,
}
STOP_REASON_NAMES = {v: k for k, v in STOP_REASONS.items()}


# ---- proto → JSON ------------------------------------------------------------------------------


def _cache_control_json(control: common_pb2.CacheControl) -> dict[str, str]:
    out = {"type": "ephemeral"}
    if control.ttl in _TTL_TO_JSON:
        out["ttl"] = _TTL_TO_JSON[control.ttl]
    return out


def block_to_json(block: common_pb2.ContentBlock) -> dict[str, Any]:
    kind = block.WhichOneof("block")
    out: dict[str, Any]
    if kind == "text":
        out = {"type": "text", "text": block.text.text}
    elif kind == "image":
        data = base64.b64encode(block.image.data).decode()
        out = {
            "type": "image",
            "source": {"type": "base64", "media_type": block.image.media_type, "data": data},
        }
    elif kind == "tool_use":
        out = {
            "type": "tool_use",
            "id": block.tool_use.id,
            "name": block.tool_use.name,
            "input": json_format.MessageToDict(block.tool_use.input),
        }
    elif kind == "tool_result":
        out = {
            "type": "tool_result",
            "tool_use_id": block.tool_result.tool_use_id,
            "content": [block_to_json(b) for b in block.tool_result.content],
        }
        if block.tool_result.is_error:
            out["is_error"] = True
    else:
        raise ValueError("content block has no type")
    if block.HasField("cache_control"):
        out["cache_control"] = _cache_control_json(block.cache_control)
    return out


def request_to_params(request: common_pb2.ClaudeRequest) -> dict[str, Any]:
    """Keyword arguments for `AsyncAnthropic().messages.create(...)`."""
    params: dict[str, Any] = {
        "model": request.model,
        "max_tokens": request.max_tokens,
        "messages": [
            {"role": _ROLE_TO_JSON[m.role], "content": [block_to_json(b) for b in m.content]}
            for m in request.messages
        ],
    }
    if request.system:
        params["system"] = [block_to_json(b) for b in request.system]
    if request.tools:
        params["tools"] = [_tool_to_json(t) for t in request.tools]
    if request.HasField("tool_choice") and request.tool_choice.type in _TOOL_CHOICE_TO_JSON:
        choice: dict[str, Any] = {"type": _TOOL_CHOICE_TO_JSON[request.tool_choice.type]}
        if request.tool_choice.name:
            choice["name"] = request.tool_choice.name
        if request.tool_choice.disable_parallel_tool_use:
            choice["disable_parallel_tool_use"] = True
        params["tool_choice"] = choice
    for name in ("temperature", "top_p", "top_k"):
        if request.HasField(name):
            params[name] = getattr(request, name)
    if request.stop_sequences:
        params["stop_sequences"] = list(request.stop_sequences)
    return params


def _tool_to_json(tool: common_pb2.Tool) -> dict[str, Any]:
    out: dict[str, Any] = {
        "name": tool.name,
        "input_schema": json_format.MessageToDict(tool.input_schema) or {"type": "object"},
    }
    if tool.description:
        out["description"] = tool.description
    if tool.HasField("cache_control"):
        out["cache_control"] = _cache_control_json(tool.cache_control)
    return out


def response_to_json(response: common_pb2.ClaudeResponse) -> dict[str, Any]:
    return {
        "id": response.id,
        "type": "message",
        "role": "assistant",
        "model": response.model,
        "content": [block_to_json(b) for b in response.content],
        "stop_reason": STOP_REASON_NAMES.get(response.stop_reason),
        "stop_sequence": response.stop_sequence or None,
        "usage": usage_to_json(response.usage),
    }


def usage_to_json(usage: common_pb2.Usage) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "output_tokens": usage.output_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_5m_input_tokens,
            "ephemeral_1h_input_tokens": usage.cache_creation_1h_input_tokens,
        },
    }


# ---- JSON → proto ------------------------------------------------------------------------------


def _struct(value: Mapping[str, Any] | None) -> struct_pb2.Struct:
    struct = struct_pb2.Struct()
    if value:
        struct.update(value)
    return struct


def _cache_control_from_json(value: Mapping[str, Any] | None) -> common_pb2.CacheControl | None:
    if not value:
        return None
    ttl = _TTL_FROM_JSON.get(str(value.get("ttl", "5m")), common_pb2.CACHE_TTL_5M)
    return common_pb2.CacheControl(ttl=ttl)


def block_from_json(value: str | Mapping[str, Any]) -> common_pb2.ContentBlock:
    if isinstance(value, str):
        return common_pb2.ContentBlock(text=common_pb2.TextBlock(text=value))
    kind = value.get("type")
    block = common_pb2.ContentBlock()
    if kind == "text":
        block.text.text = str(value.get("text", ""))
    elif kind == "image":
        source = value.get("source") or {}
        block.image.media_type = str(source.get("media_type", ""))
        block.image.data = base64.b64decode(source.get("data", ""))
    elif kind == "tool_use":
        block.tool_use.id = str(value.get("id", ""))
        block.tool_use.name = str(value.get("name", ""))
        block.tool_use.input.CopyFrom(_struct(value.get("input")))
    elif kind == "tool_result":
        block.tool_result.tool_use_id = str(value.get("tool_use_id", ""))
        block.tool_result.content.extend(content_from_json(value.get("content", "")))
        block.tool_result.is_error = bool(value.get("is_error", False))
    else:
        raise ValueError(f"unsupported content block type {kind!r}")
    control = _cache_control_from_json(value.get("cache_control"))
    if control is not None:
        block.cache_control.CopyFrom(control)
    return block


def content_from_json(content: str | Iterable[Any]) -> list[common_pb2.ContentBlock]:
    """A message's content: a plain string or a list of blocks."""
    if isinstance(content, str):
        return [block_from_json(content)] if content else []
    return [block_from_json(b) for b in content]


def request_from_params(params: Mapping[str, Any]) -> common_pb2.ClaudeRequest:
    """A ClaudeRequest from the keyword arguments one would pass to `messages.create`."""
    request = common_pb2.ClaudeRequest(
        model=str(params.get("model", "")), max_tokens=int(params.get("max_tokens", 0))
    )
    system = params.get("system")
    if system:
        request.system.extend(content_from_json(system))
    for message in params.get("messages", []):
        role = _ROLE_FROM_JSON.get(message.get("role"), common_pb2.ROLE_UNSPECIFIED)
        request.messages.add(role=role, content=content_from_json(message.get("content", "")))
    for tool in params.get("tools", []):
        proto_tool = request.tools.add(
            name=tool["name"],
            description=tool.get("description", ""),
            input_schema=_struct(tool.get("input_schema")),
        )
        control = _cache_control_from_json(tool.get("cache_control"))
        if control is not None:
            proto_tool.cache_control.CopyFrom(control)
    choice = params.get("tool_choice")
    if choice:
        request.tool_choice.type = _TOOL_CHOICE_FROM_JSON.get(
            choice.get("type"), common_pb2.TOOL_CHOICE_TYPE_AUTO
        )
        request.tool_choice.name = choice.get("name", "")
        request.tool_choice.disable_parallel_tool_use = bool(
            choice.get("disable_parallel_tool_use", False)
        )
    for name in ("temperature", "top_p", "top_k"):
        if params.get(name) is not None:
            setattr(request, name, params[name])
    request.stop_sequences.extend(params.get("stop_sequences", []))
    return request


def usage_from_json(usage: Mapping[str, Any] | None) -> common_pb2.Usage:
    usage = usage or {}
    creation = usage.get("cache_creation") or {}
    return common_pb2.Usage(
        input_tokens=int(usage.get("input_tokens") or 0),
        output_tokens=int(usage.get("output_tokens") or 0),
        cache_read_input_tokens=int(usage.get("cache_read_input_tokens") or 0),
        cache_creation_input_tokens=int(usage.get("cache_creation_input_tokens") or 0),
        cache_creation_5m_input_tokens=int(creation.get("ephemeral_5m_input_tokens") or 0),
        cache_creation_1h_input_tokens=int(creation.get("ephemeral_1h_input_tokens") or 0),
    )


def response_from_json(message: Mapping[str, Any]) -> common_pb2.ClaudeResponse:
    """A ClaudeResponse from a Messages API response body (or the SDK's `model_dump()`)."""
    return common_pb2.ClaudeResponse(
        id=str(message.get("id", "")),
        model=str(message.get("model", "")),
        content=[block_from_json(b) for b in message.get("content", [])],
        stop_reason=STOP_REASONS.get(
            str(message.get("stop_reason")), common_pb2.STOP_REASON_UNSPECIFIED
        ),
        stop_sequence=message.get("stop_sequence") or "",
        usage=usage_from_json(message.get("usage")),
    )


def merge_usage(base: common_pb2.Usage, update: common_pb2.Usage) -> common_pb2.Usage:
    """Usage after a streamed `message_delta`: non-zero counts in `update` replace `base`'s."""
    merged = common_pb2.Usage()
    merged.CopyFrom(base)
    for field in (
        "input_tokens",
        "output_tokens",
        "cache_read_input_tokens",
        "cache_creation_input_tokens",
        "cache_creation_5m_input_tokens",
        "cache_creation_1h_input_tokens",
    ):
        value = getattr(update, field)
        if value:
            setattr(merged, field, value)
    return merged


def stream_event_from_json(event: Mapping[str, Any]) -> common_pb2.StreamEvent | None:
    """One server-sent event of a streamed message; None for events we do not forward (ping)."""
    kind = event.get("type")
    if kind == "message_start":
        message = event.get("message") or {}
        return common_pb2.StreamEvent(
            message_start=common_pb2.MessageStartEvent(
                id=str(message.get("id", "")),
                model=str(message.get("model", "")),
                usage=usage_from_json(message.get("usage")),
            )
        )
    if kind == "content_block_start":
        return common_pb2.StreamEvent(
            content_block_start=common_pb2.ContentBlockStartEvent(
                index=int(event.get("index", 0)),
                content_block=block_from_json(event.get("content_block") or {"type": "text"}),
            )
        )
    if kind == "content_block_delta":
        delta = event.get("delta") or {}
        proto = common_pb2.ContentBlockDeltaEvent(index=int(event.get("index", 0)))
        if delta.get("type") == "input_json_delta":
            proto.partial_json = str(delta.get("partial_json", ""))
        elif delta.get("type") == "text_delta":
            proto.text = str(delta.get("text", ""))
        else:
            return None
        return common_pb2.StreamEvent(content_block_delta=proto)
    if kind == "content_block_stop":
        return common_pb2.StreamEvent(
            content_block_stop=common_pb2.ContentBlockStopEvent(index=int(event.get("index", 0)))
        )
    if kind == "message_delta":
        delta = event.get("delta") or {}
        return common_pb2.StreamEvent(
            message_delta=common_pb2.MessageDeltaEvent(
                stop_reason=STOP_REASONS.get(
                    str(delta.get("stop_reason")), common_pb2.STOP_REASON_UNSPECIFIED
                ),
                stop_sequence=delta.get("stop_sequence") or "",
                usage=usage_from_json(event.get("usage")),
            )
        )
    if kind == "message_stop":
        return common_pb2.StreamEvent(message_stop=common_pb2.MessageStopEvent())
    return None
