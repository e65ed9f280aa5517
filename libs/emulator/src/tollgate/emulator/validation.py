"""Validation of Messages request bodies, with the real API's error wording.

Tollgate builds these bodies itself, so the emulator is strict on purpose: a
malformed request that the real API would reject must fail here too, with a
400 ``invalid_request_error`` naming the offending field.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.errors import ApiError, invalid_request
from tollgate.emulator.tokens import PromptSegment, prompt_segments

MAX_CACHE_BREAKPOINTS = 4

_MESSAGE_FIELDS = frozenset(
    {
        "model",
        "max_tokens",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "temperature",
        "top_p",
        "top_k",
        "stop_sequences",
        "metadata",
        "stream",
        # Accepted without interpretation: they change nothing the emulator models.
        "thinking",
        "service_tier",
        "container",
        "mcp_servers",
        "context_management",
        "output_format",
        "output_config",
        "inference_geo",
        "speed",
    }
)
_COUNT_FIELDS = frozenset(
    {
        "model",
        "messages",
        "system",
        "tools",
        "tool_choice",
        "thinking",
        "mcp_servers",
        "context_management",
        "output_format",
        "output_config",
    }
)
_BLOCK_TYPES = frozenset(
    {
        "text",
        "image",
        "document",
        "tool_use",
        "tool_result",
        "thinking",
        "redacted_thinking",
        "server_tool_use",
        "web_search_tool_result",
        "search_result",
    }
)
_TOOL_NAME = re.compile(r"^[a-zA-Z0-9_-]{1,128}$")
_TTLS = ("5m", "1h")


@dataclass(frozen=True)
class MessageRequest:
    """A validated request: the original body plus the fields the emulator acts on."""

    body: Mapping[str, Any]
    model: str
    max_tokens: int
    stream: bool
    stop_sequences: tuple[str, ...]
    tools: tuple[Mapping[str, Any], ...]
    tool_choice: Mapping[str, Any] | None
    # The prompt counted once, here: the rate limiter, the prompt cache and count_tokens all
    # read these, so a request is never tokenized twice.
    segments: tuple[PromptSegment, ...]

    @property
    def prompt_tokens(self) -> int:
        """Every prompt token, cached or not (what count_tokens answers)."""
        return sum(segment.tokens for segment in self.segments)


def _fail(where: str, message: str) -> ApiError:
    return invalid_request(f"{where}: {message}")


def _is_number(value: Any) -> bool:
    return isinstance(value, int | float) and not isinstance(value, bool)


def _require_str(block: Mapping[str, Any], key: str, where: str) -> str:
    value = block.get(key)
    if value is None:
        raise _fail(f"{where}.{key}", "Field required")
    if not isinstance(value, str):
        raise _fail(f"{where}.{key}", "Input should be a valid string")
    return value


class _Breakpoints:
    """Counts cache_control markers in prompt order and checks their TTL order."""

    def __init__(self) -> None:
        self.ttls: list[str] = []

    def check(self, block: Mapping[str, Any], where: str) -> None:
        control = block.get("cache_control")
        if control is None:
            return
        if not isinstance(control, Mapping):
            raise _fail(f"{where}.cache_control", "Input should be a valid dictionary")
        if control.get("type") != "ephemeral":
            raise _fail(f"{where}.cache_control.type", "Input should be 'ephemeral'")
        ttl = control.get("ttl", "5m")
        if ttl not in _TTLS:
            raise _fail(f"{where}.cache_control.ttl", "Input should be '5m' or '1h'")
        self.ttls.append(ttl)

    def finish(self) -> None:
        if len(self.ttls) > MAX_CACHE_BREAKPOINTS:
            raise invalid_request(
                f"A maximum of {MAX_CACHE_BREAKPOINTS} blocks with cache_control may be "
                f"provided. Found {len(self.ttls)}."
            )
        if "5m" in self.ttls and "1h" in self.ttls[self.ttls.index("5m") :]:
            raise invalid_request(
                "a ttl='1h' cache_control block must not come after a ttl='5m' "
                "cache_control block. Note that blocks are processed in the following "
                "order: `tools`, `system`, `messages`."
            )


def _check_text_block(block: Mapping[str, Any], where: str, top: str) -> None:
    text = _require_str(block, "text", where)
    if not text:
        raise invalid_request(f"{top}: text content blocks must be non-empty")


def _check_block(
    block: Any, where: str, role: str, breakpoints: _Breakpoints, *, nested: bool = False
) -> None:
    if not isinstance(block, Mapping):
        raise _fail(where, "Input should be a valid dictionary")
    kind = block.get("type")
    if kind not in _BLOCK_TYPES:
        expected = ", ".join(f"'{name}'" for name in sorted(_BLOCK_TYPES))
        raise _fail(
            f"{where}.type",
            f"Input tag '{kind}' found using 'type' does not match any of the expected "
            f"tags: {expected}",
        )
    if not nested:
        breakpoints.check(block, where)
    if kind == "text":
        _check_text_block(block, where, "messages")
    elif kind == "image":
        source = block.get("source")
        if not isinstance(source, Mapping) or source.get("type") not in ("base64", "url", "file"):
            raise _fail(f"{where}.source", "Input should be a base64, url or file image source")
    elif kind == "tool_use":
        if role != "assistant":
            raise _fail(where, "tool_use blocks can only appear in assistant messages")
        _require_str(block, "id", where)
        _require_str(block, "name", where)
        if not isinstance(block.get("input"), Mapping):
            raise _fail(f"{where}.input", "Input should be a valid dictionary")
    elif kind == "tool_result":
        if role != "user":
            raise _fail(where, "tool_result blocks can only appear in user messages")
        _require_str(block, "tool_use_id", where)
        content = block.get("content", "")
        if isinstance(content, list):
            for i, inner in enumerate(content):
                _check_block(inner, f"{where}.content.{i}", role, breakpoints, nested=True)
        elif not isinstance(content, str):
            raise _fail(f"{where}.content", "Input should be a valid string or list")


def _blocks_of(message: Mapping[str, Any]) -> Sequence[Any]:
    content = message.get("content")
    return [{"type": "text", "text": content}] if isinstance(content, str) else content or []


def _ids(blocks: Sequence[Any], kind: str, key: str) -> list[str]:
    return [str(b.get(key)) for b in blocks if isinstance(b, Mapping) and b.get("type") == kind]


def _check_tool_pairing(messages: Sequence[Mapping[str, Any]]) -> None:
    """Every tool_result answers a tool_use of the message just before it, and vice versa."""
    for i, message in enumerate(messages):
        results = _ids(_blocks_of(message), "tool_result", "tool_use_id")
        previous = _ids(_blocks_of(messages[i - 1]), "tool_use", "id") if i > 0 else []
        stray = [tool_id for tool_id in results if tool_id not in previous]
        if stray:
            raise invalid_request(
                f"messages.{i}.content: unexpected `tool_use_id` found in `tool_result` blocks: "
                f"{', '.join(stray)}. Each `tool_result` block must have a corresponding "
                "`tool_use` block in the previous message."
            )
        if i > 0 and previous:
            missing = [tool_id for tool_id in previous if tool_id not in results]
            if missing:
                raise invalid_request(
                    f"messages.{i}: `tool_use` ids were found without `tool_result` blocks "
                    f"immediately after: {', '.join(missing)}. Each `tool_use` block must have "
                    "a corresponding `tool_result` block in the next message."
                )


def _check_messages(value: Any, breakpoints: _Breakpoints) -> list[Mapping[str, Any]]:
    if value is None:
        raise _fail("messages", "Field required")
    if not isinstance(value, list):
        raise _fail("messages", "Input should be a valid list")
    if not value:
        raise _fail("messages", "at least one message is required")
    for i, message in enumerate(value):
        where = f"messages.{i}"
        if not isinstance(message, Mapping):
            raise _fail(where, "Input should be a valid dictionary")
        role = message.get("role")
        if role not in ("user", "assistant"):
            raise _fail(f"{where}.role", "Input should be 'user' or 'assistant'")
        content = message.get("content")
        is_last_assistant = i == len(value) - 1 and role == "assistant"
        if isinstance(content, str):
            if not content and not is_last_assistant:
                raise invalid_request(
                    f"{where}: all messages must have non-empty content except for the "
                    "optional final assistant message"
                )
        elif isinstance(content, list):
            for j, block in enumerate(content):
                _check_block(block, f"{where}.content.{j}", role, breakpoints)
        else:
            raise _fail(f"{where}.content", "Input should be a valid string or list")
        if is_last_assistant and isinstance(content, str) and content != content.rstrip():
            raise invalid_request("final assistant content cannot end with trailing whitespace")
    _check_tool_pairing(value)
    return value


def _check_system(value: Any, breakpoints: _Breakpoints) -> None:
    if value is None or isinstance(value, str):
        return
    if not isinstance(value, list):
        raise _fail("system", "Input should be a valid string or list")
    for i, block in enumerate(value):
        where = f"system.{i}"
        if not isinstance(block, Mapping):
            raise _fail(where, "Input should be a valid dictionary")
        if block.get("type") != "text":
            raise _fail(f"{where}.type", "Input should be 'text'")
        breakpoints.check(block, where)
        _check_text_block(block, where, "system")


def _check_tools(value: Any, breakpoints: _Breakpoints) -> tuple[Mapping[str, Any], ...]:
    if value is None:
        return ()
    if not isinstance(value, list):
        raise _fail("tools", "Input should be a valid list")
    names: list[str] = []
    for i, tool in enumerate(value):
        where = f"tools.{i}"
        if not isinstance(tool, Mapping):
            raise _fail(where, "Input should be a valid dictionary")
        name = _require_str(tool, "name", where)
        if tool.get("type", "custom") == "custom":
            if not _TOOL_NAME.match(name):
                raise _fail(f"{where}.name", "String should match pattern '^[a-zA-Z0-9_-]{1,128}$'")
            schema = tool.get("input_schema")
            if schema is None:
                raise _fail(f"{where}.input_schema", "Field required")
            if not isinstance(schema, Mapping) or schema.get("type") != "object":
                raise _fail(f"{where}.input_schema.type", "Input should be 'object'")
            if "description" in tool and not isinstance(tool["description"], str):
                raise _fail(f"{where}.description", "Input should be a valid string")
        breakpoints.check(tool, where)
        names.append(name)
    if len(set(names)) != len(names):
        raise invalid_request("tools: Tool names must be unique.")
    return tuple(value)


def _check_tool_choice(value: Any, tools: Sequence[Mapping[str, Any]]) -> Mapping[str, Any] | None:
    if value is None:
        return None
    if not isinstance(value, Mapping):
        raise _fail("tool_choice", "Input should be a valid dictionary")
    kind = value.get("type")
    if kind not in ("auto", "any", "tool", "none"):
        raise _fail(
            "tool_choice.type",
            f"Input tag '{kind}' found using 'type' does not match any of the expected tags: "
            "'auto', 'any', 'tool', 'none'",
        )
    if kind in ("any", "tool") and not tools:
        raise invalid_request(
            "tool_choice: tool_choice may only be specified while providing tools"
        )
    if kind == "tool":
        name = _require_str(value, "name", "tool_choice")
        if name not in {str(tool.get("name")) for tool in tools}:
            raise invalid_request(f"tool_choice: Tool '{name}' not found in provided tools")
    return value


def _check_sampling(body: Mapping[str, Any]) -> None:
    for key in ("temperature", "top_p"):
        value = body.get(key)
        if value is None:
            continue
        if not _is_number(value):
            raise _fail(key, "Input should be a valid number")
        if not 0.0 <= value <= 1.0:
            raise _fail(key, "Input should be between 0 and 1")
    top_k = body.get("top_k")
    if top_k is not None and (not isinstance(top_k, int) or isinstance(top_k, bool) or top_k < 0):
        raise _fail("top_k", "Input should be a non-negative integer")
    metadata = body.get("metadata")
    if metadata is not None:
        if not isinstance(metadata, Mapping):
            raise _fail("metadata", "Input should be a valid dictionary")
        for key in metadata:
            if key != "user_id":
                raise _fail(f"metadata.{key}", "Extra inputs are not permitted")
        user_id = metadata.get("user_id")
        if user_id is not None and (not isinstance(user_id, str) or len(user_id) > 256):
            raise _fail("metadata.user_id", "Input should be a string of at most 256 characters")


def _check_stop_sequences(value: Any) -> tuple[str, ...]:
    if value is None:
        return ()
    if not isinstance(value, list) or not all(isinstance(item, str) for item in value):
        raise _fail("stop_sequences", "Input should be a valid list of strings")
    if any(not item.strip() for item in value):
        raise _fail("stop_sequences", "each stop sequence must contain non-whitespace")
    return tuple(value)


def _check_model(body: Mapping[str, Any], config: EmulatorConfig) -> str:
    model = body.get("model")
    if model is None:
        raise _fail("model", "Field required")
    if not isinstance(model, str) or not model:
        raise _fail("model", "Input should be a valid string")
    if not config.knows_model(model):
        raise ApiError("not_found_error", f"model: {model}")
    return model


def _check_max_tokens(body: Mapping[str, Any], model: str, config: EmulatorConfig) -> int:
    value = body.get("max_tokens")
    if value is None:
        raise _fail("max_tokens", "Field required")
    if not isinstance(value, int) or isinstance(value, bool):
        raise _fail("max_tokens", "Input should be a valid integer")
    if value < 1:
        raise _fail("max_tokens", "Input should be greater than or equal to 1")
    if value > config.max_output_tokens:
        raise _fail(
            "max_tokens",
            f"{value} > {config.max_output_tokens}, which is the maximum allowed number of "
            f"output tokens for {model}",
        )
    return value


def validate_request(
    body: Any, config: EmulatorConfig, *, for_count: bool = False
) -> MessageRequest:
    """Check a /v1/messages (or, with ``for_count``, a count_tokens) body.

    Raises ``ApiError`` (400, or 404 for an unknown model) on the first problem.
    """
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object")
    allowed = _COUNT_FIELDS if for_count else _MESSAGE_FIELDS
    for key in body:
        if key not in allowed:
            raise _fail(str(key), "Extra inputs are not permitted")
    breakpoints = _Breakpoints()
    tools = _check_tools(body.get("tools"), breakpoints)
    _check_system(body.get("system"), breakpoints)
    _check_messages(body.get("messages"), breakpoints)
    breakpoints.finish()
    tool_choice = _check_tool_choice(body.get("tool_choice"), tools)
    _check_sampling(body)
    stop_sequences = _check_stop_sequences(body.get("stop_sequences"))
    stream = body.get("stream", False)
    if not isinstance(stream, bool):
        raise _fail("stream", "Input should be a valid boolean")
    model = _check_model(body, config)
    max_tokens = 1 if for_count else _check_max_tokens(body, model, config)
    return MessageRequest(
        body=body,
        model=model,
        max_tokens=max_tokens,
        stream=stream,
        stop_sequences=stop_sequences,
        tools=tools,
        tool_choice=tool_choice,
        segments=tuple(prompt_segments(body)),
    )
