"""A request's conversation checked, normalised and split into exchanges.

An *exchange* starts at a user turn that is not a tool result and runs to the next such turn:
the user's words, the assistant's answer, and any tool calls and results in between. Every
exchange but the last therefore starts with a user turn and ends with an assistant turn, and a
tool_use and its tool_result always sit in the same exchange. Removing whole exchanges is what
keeps roles alternating and tool calls paired in everything the optimizer sends.

Consecutive turns of the same role are merged into one, as the Messages API itself does, so the
messages handed on always alternate. Input the API would refuse (no messages, an unknown role,
empty content, a tool_result that answers nothing, a tool_use left without its result, a first
turn from the assistant) is refused here with INVALID_ARGUMENT naming the field.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from tollgate.common.errors import invalid_argument
from tollgate.v1 import common_pb2

_TOOL_RESULT_CONTENT = frozenset({"text", "image"})


@dataclass(frozen=True)
class Exchange:
    """Messages [start, end) of the normalised conversation."""

    index: int
    start: int
    end: int

    @property
    def size(self) -> int:
        return self.end - self.start


@dataclass(frozen=True)
class Conversation:
    messages: list[common_pb2.Message]
    exchanges: list[Exchange]
    # True when same-role turns were merged, so `messages` differs from the request's.
    merged: bool

    def exchange_messages(self, exchange: Exchange) -> list[common_pb2.Message]:
        return self.messages[exchange.start : exchange.end]


def _block_kind(block: common_pb2.ContentBlock, where: str) -> str:
    kind = block.WhichOneof("block")
    if kind is None:
        raise invalid_argument(
            f"{where} has no content: set text, image, tool_use or tool_result.", where
        )
    return kind


def _check_text(block: common_pb2.ContentBlock, where: str) -> None:
    if not block.text.text:
        raise invalid_argument(
            f"{where} is an empty text block; text blocks must not be empty.", where
        )


def _check_block(block: common_pb2.ContentBlock, role: int, where: str) -> None:
    kind = _block_kind(block, where)
    if kind == "text":
        _check_text(block, where)
    elif kind == "image":
        if not block.image.data or not block.image.media_type:
            raise invalid_argument(f"{where} is an image without data or media type.", where)
    elif kind == "tool_use":
        if role != common_pb2.ROLE_ASSISTANT:
            raise invalid_argument(
                f"{where}: only assistant turns may contain tool_use blocks.", where
            )
        if not block.tool_use.id or not block.tool_use.name:
            raise invalid_argument(f"{where}: a tool_use block needs an id and a name.", where)
    elif kind == "tool_result":
        if role != common_pb2.ROLE_USER:
            raise invalid_argument(
                f"{where}: only user turns may contain tool_result blocks.", where
            )
        if not block.tool_result.tool_use_id:
            raise invalid_argument(
                f"{where}: a tool_result block needs the tool_use_id it answers.", where
            )
        for j, inner in enumerate(block.tool_result.content):
            inner_where = f"{where}.tool_result.content[{j}]"
            inner_kind = _block_kind(inner, inner_where)
            if inner_kind not in _TOOL_RESULT_CONTENT:
                raise invalid_argument(
                    f"{inner_where}: tool results may contain only text and image blocks.",
                    inner_where,
                )
            _check_block(inner, role, inner_where)


def _check_system(request: common_pb2.ClaudeRequest) -> None:
    for i, block in enumerate(request.system):
        where = f"request.system[{i}]"
        if _block_kind(block, where) != "text":
            raise invalid_argument(
                f"{where}: the system prompt may contain only text blocks.", where
            )
        _check_text(block, where)


def _merge_same_role(
    messages: Sequence[common_pb2.Message],
) -> tuple[list[common_pb2.Message], list[int]]:
    """Messages with same-role neighbours merged, and the first request index of each."""
    merged: list[common_pb2.Message] = []
    origins: list[int] = []
    for i, message in enumerate(messages):
        if merged and merged[-1].role == message.role:
            combined = common_pb2.Message()
            combined.CopyFrom(merged[-1])
            combined.content.extend(message.content)
            merged[-1] = combined
        else:
            merged.append(message)
            origins.append(i)
    return merged, origins


def _ids(message: common_pb2.Message, kind: str) -> list[str]:
    if kind == "tool_use":
        return [b.tool_use.id for b in message.content if b.WhichOneof("block") == "tool_use"]
    return [
        b.tool_result.tool_use_id for b in message.content if b.WhichOneof("block") == "tool_result"
    ]


def _check_tool_pairing(messages: Sequence[common_pb2.Message], origins: Sequence[int]) -> None:
    seen: set[str] = set()
    for i, message in enumerate(messages):
        kinds = [b.WhichOneof("block") for b in message.content]
        if "tool_use" not in kinds and "tool_result" not in kinds:
            # Nothing to pair here; a tool_use just before is checked from its own turn.
            continue
        where = f"request.messages[{origins[i]}]"
        uses = _ids(message, "tool_use")
        for tool_id in uses:
            if tool_id in seen:
                raise invalid_argument(f"{where}: tool_use id {tool_id!r} is used twice.", where)
            seen.add(tool_id)
        results = _ids(message, "tool_result")
        asked = set(_ids(messages[i - 1], "tool_use")) if i > 0 else set()
        stray = [tool_id for tool_id in results if tool_id not in asked]
        if stray:
            raise invalid_argument(
                f"{where}: tool_result for {', '.join(stray)} does not answer a tool_use of the "
                "turn just before it.",
                where,
            )
        if results:
            first_other = next((k for k, kind in enumerate(kinds) if kind != "tool_result"), None)
            if first_other is not None and "tool_result" in kinds[first_other:]:
                raise invalid_argument(
                    f"{where}: tool_result blocks must come before any other content.", where
                )
        if uses and i + 1 < len(messages):
            answered = set(_ids(messages[i + 1], "tool_result"))
            missing = [tool_id for tool_id in uses if tool_id not in answered]
            if missing:
                raise invalid_argument(
                    f"{where}: tool_use {', '.join(missing)} has no tool_result in the next turn.",
                    where,
                )


def _starts_exchange(message: common_pb2.Message) -> bool:
    return message.role == common_pb2.ROLE_USER and not any(
        b.WhichOneof("block") == "tool_result" for b in message.content
    )


def parse_conversation(request: common_pb2.ClaudeRequest) -> Conversation:
    """Check `request` and split its conversation into exchanges.

    Raises ServiceError(INVALID_ARGUMENT) naming the first field the Messages API would refuse.
    """
    _check_system(request)
    if not request.messages:
        raise invalid_argument(
            "request.messages is empty; send at least one user turn.", "request.messages"
        )
    last = len(request.messages) - 1
    for i, message in enumerate(request.messages):
        where = f"request.messages[{i}]"
        if message.role not in (common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT):
            raise invalid_argument(
                f"{where}.role must be ROLE_USER or ROLE_ASSISTANT.", f"{where}.role"
            )
        if not message.content and not (i == last and message.role == common_pb2.ROLE_ASSISTANT):
            raise invalid_argument(
                f"{where} has no content; only a final assistant turn may be empty.", where
            )
        for j, block in enumerate(message.content):
            _check_block(block, message.role, f"{where}.content[{j}]")
    if request.messages[0].role != common_pb2.ROLE_USER:
        raise invalid_argument(
            "request.messages[0] is an assistant turn; a conversation must start with the user.",
            "request.messages[0].role",
        )
    messages, origins = _merge_same_role(request.messages)
    _check_tool_pairing(messages, origins)
    starts = [i for i, message in enumerate(messages) if _starts_exchange(message)]
    bounds = [*starts, len(messages)]
    exchanges = [Exchange(k, bounds[k], bounds[k + 1]) for k in range(len(starts))]
    return Conversation(messages, exchanges, merged=len(messages) != len(request.messages))
