"""Fixtures and builders for the conversation optimizer's tests."""

from __future__ import annotations

import importlib.util
import json
import sys
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from types import ModuleType
from typing import Any

import pytest
from hypothesis import strategies as st

from tollgate.common.anthropic_format import request_from_params
from tollgate.common.testing import serving
from tollgate.conversation_optimizer.service import build_service
from tollgate.conversation_optimizer.settings import Settings
from tollgate.v1 import common_pb2, conversation_optimizer_pb2_grpc

BENCH = Path(__file__).resolve().parents[3] / "bench"
DATA_FILE = BENCH / "data" / "crm_conversations.jsonl"
DIALOGUES_DEV_FILE = BENCH / "data" / "dialogues_dev.jsonl"
EMULATOR_MODEL = "claude-sonnet-4-6"


def text_block(text: str, cached: bool = False) -> common_pb2.ContentBlock:
    block = common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))
    if cached:
        block.cache_control.ttl = common_pb2.CACHE_TTL_5M
    return block


def user(*texts: str) -> common_pb2.Message:
    return common_pb2.Message(role=common_pb2.ROLE_USER, content=[text_block(t) for t in texts])


def assistant(*texts: str) -> common_pb2.Message:
    return common_pb2.Message(
        role=common_pb2.ROLE_ASSISTANT, content=[text_block(t) for t in texts]
    )


def tool_use(tool_id: str, name: str, arguments: dict[str, Any]) -> common_pb2.ContentBlock:
    block = common_pb2.ContentBlock()
    block.tool_use.id = tool_id
    block.tool_use.name = name
    block.tool_use.input.update(arguments)
    return block


def tool_result(tool_id: str, text: str) -> common_pb2.ContentBlock:
    block = common_pb2.ContentBlock()
    block.tool_result.tool_use_id = tool_id
    block.tool_result.content.append(text_block(text))
    return block


def request_of(
    messages: list[common_pb2.Message], system: str = "You are a helpful real-estate assistant."
) -> common_pb2.ClaudeRequest:
    return common_pb2.ClaudeRequest(
        model=EMULATOR_MODEL,
        max_tokens=512,
        system=[text_block(system)] if system else [],
        messages=messages,
    )


def load_conversations() -> list[dict[str, Any]]:
    with DATA_FILE.open() as handle:
        return [json.loads(line) for line in handle if line.strip()]


class Builders:
    """Message builders, handed to tests as the `make` fixture."""

    text_block = staticmethod(text_block)
    user = staticmethod(user)
    assistant = staticmethod(assistant)
    tool_use = staticmethod(tool_use)
    tool_result = staticmethod(tool_result)
    request = staticmethod(request_of)


@pytest.fixture(scope="session")
def make() -> Builders:
    return Builders()


@pytest.fixture(scope="session")
def crm_conversations() -> list[dict[str, Any]]:
    """The evaluation conversations of bench/data (generated with a fixed seed)."""
    return load_conversations()


@pytest.fixture(scope="session")
def long_crm_request(crm_conversations: list[dict[str, Any]]) -> common_pb2.ClaudeRequest:
    """The longest evaluation conversation as a ClaudeRequest."""
    longest = max(crm_conversations, key=lambda c: len(c["request"]["messages"]))
    return request_from_params(longest["request"])


@pytest.fixture(scope="session")
def text_of() -> Callable[[common_pb2.ClaudeRequest], str]:
    return all_text


def all_text(request: common_pb2.ClaudeRequest) -> str:
    """Every piece of text of a request: system, turns, tool results."""
    parts = [b.text.text for b in request.system]
    for message in request.messages:
        for block in message.content:
            kind = block.WhichOneof("block")
            if kind == "text":
                parts.append(block.text.text)
            elif kind == "tool_result":
                parts.extend(b.text.text for b in block.tool_result.content)
    return "\n".join(parts)


@pytest.fixture
async def optimizer_stub(
    request: pytest.FixtureRequest,
) -> AsyncIterator[conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub]:
    """The service over real gRPC; parametrize indirectly with a dict of Settings fields."""
    import grpc

    overrides: dict[str, Any] = getattr(request, "param", {})
    settings = Settings(host="127.0.0.1", port=0, **overrides)
    async with serving(await build_service(settings), settings) as running:
        channel = grpc.aio.insecure_channel(running.address)
        try:
            yield conversation_optimizer_pb2_grpc.ConversationOptimizerServiceStub(channel)
        finally:
            await channel.close()


# ---- random conversations for property tests ------------------------------------------------

SENTENCES = [
    "Hi there!",
    "Thanks so much!",
    "Okay, sounds good.",
    "Our budget is $650,000 at most.",
    "We need at least three bedrooms.",
    "We'd like to move in by June 15.",
    "We're pre-approved with Summit Bank.",
    "You're confirmed for 41 Alder Street on Saturday at 10:30 AM.",
    "Let me know if you have any other questions.",
    "The weather has been lovely this week.",
    "I found 7 listings in Maplewood.",
]
_WORDS = st.text(
    alphabet=st.characters(codec="utf-8", exclude_categories=("Cs",)), min_size=1, max_size=60
).filter(lambda s: s.strip() != "")
_TEXT = st.one_of(
    st.lists(st.sampled_from(SENTENCES), min_size=1, max_size=4).map(" ".join),
    _WORDS,
)
_TOOL_OUTPUT = st.one_of(
    _TEXT,
    st.integers(min_value=20, max_value=120).map(
        lambda n: "\n".join(
            f"listing {i}: {i * 7} Elm Street, ${400_000 + i * 1000:,}" for i in range(n)
        )
    ),
)


@st.composite
def conversations(draw: st.DrawFn, max_exchanges: int = 14) -> common_pb2.ClaudeRequest:
    """A valid Messages request: alternating turns, tool rounds with paired results, ending with
    the user (a question or a tool result), with some cache_control breakpoints."""
    exchanges = draw(st.integers(min_value=1, max_value=max_exchanges))
    messages: list[common_pb2.Message] = []
    tool_ids = iter(range(1_000_000))
    for index in range(exchanges):
        last = index == exchanges - 1
        messages.append(
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[text_block(draw(_TEXT), cached=draw(st.booleans()) and last)],
            )
        )
        rounds = draw(st.integers(min_value=0, max_value=2))
        for round_index in range(rounds):
            calls = draw(st.integers(min_value=1, max_value=2))
            ids = [f"toolu_{next(tool_ids)}" for _ in range(calls)]
            blocks = [text_block(draw(_TEXT))] if draw(st.booleans()) else []
            blocks += [tool_use(i, "search_listings", {"area": draw(_TEXT)}) for i in ids]
            messages.append(common_pb2.Message(role=common_pb2.ROLE_ASSISTANT, content=blocks))
            results = [tool_result(i, draw(_TOOL_OUTPUT)) for i in ids]
            if draw(st.booleans()):
                results.append(text_block(draw(_TEXT)))
            messages.append(common_pb2.Message(role=common_pb2.ROLE_USER, content=results))
            if last and round_index == rounds - 1:
                break
        else:
            if not last:
                messages.append(assistant(draw(_TEXT)))
    system_blocks = draw(st.lists(_TEXT, min_size=0, max_size=2))
    request = request_of(messages, system="")
    request.system.extend(text_block(t) for t in system_blocks)
    return request


@pytest.fixture(scope="session")
def conversation_strategy() -> Callable[..., st.SearchStrategy[common_pb2.ClaudeRequest]]:
    """`conversations(max_exchanges=...)`: random valid conversations with tool use."""
    return conversations


def requests_per_turn(request: common_pb2.ClaudeRequest) -> list[common_pb2.ClaudeRequest]:
    """The request of every turn, as the application sends it: the history up to each user
    turn."""
    requests = []
    for end in range(1, len(request.messages) + 1):
        if request.messages[end - 1].role != common_pb2.ROLE_USER:
            continue
        partial = common_pb2.ClaudeRequest()
        partial.CopyFrom(request)
        del partial.messages[end:]
        requests.append(partial)
    return requests


@pytest.fixture(scope="session")
def turns_of() -> Callable[[common_pb2.ClaudeRequest], list[common_pb2.ClaudeRequest]]:
    """`turns_of(request)`: the request of every user turn (`requests_per_turn`)."""
    return requests_per_turn


@pytest.fixture(scope="session")
def dialogues_dev() -> list[dict[str, Any]]:
    """The development split of bench.dialogues (the frozen test split is for the bench only)."""
    return [json.loads(line) for line in DIALOGUES_DEV_FILE.read_text().splitlines() if line]


@pytest.fixture(scope="session")
def dialogue_scoring() -> ModuleType:
    """bench/dialogue_scoring.py, the bench's own scoring (bench is not an installed package)."""
    spec = importlib.util.spec_from_file_location("dialogue_scoring", BENCH / "dialogue_scoring.py")
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    # Dataclasses look their module up while being defined.
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module
