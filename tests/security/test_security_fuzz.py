"""Hostile input: property-based fuzzing of the gateway API.

Huge and empty fields, deeply nested tool inputs, invalid UTF-8, negative and overflowing
numbers, unknown enum values and thousands of messages, as well-formed protos and as raw bytes.
Every answer must be a defined status (never INTERNAL or UNKNOWN) and the services stay healthy.

`make test` runs a bounded, derandomized version (TOLLGATE_FUZZ_EXAMPLES, default 80 per
target); `make fuzz` runs a long randomized one. The number of cases run is printed.
"""

from __future__ import annotations

import asyncio
import os
from collections import Counter
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import struct_pb2
from grpc_health.v1 import health_pb2, health_pb2_grpc
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tests.conftest import API_KEY, FullSuite
from tollgate.v1 import common_pb2, gateway_pb2

# The servers run in the test's event loop on another thread and use `random` themselves, which
# Hypothesis would mistake for a strategy using it.
pytestmark = pytest.mark.filterwarnings("ignore::hypothesis.errors.HypothesisDeprecationWarning")

EXAMPLES = int(os.environ.get("TOLLGATE_FUZZ_EXAMPLES", "80"))
LONG_RUN = os.environ.get("TOLLGATE_FUZZ_LONG", "") == "1"

# What hostile input may get back; INTERNAL or UNKNOWN would mean it broke something.
DEFINED = frozenset(
    {
        grpc.StatusCode.OK,
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
        # A request id (idempotency key) reused for a different request.
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.FAILED_PRECONDITION,
        grpc.StatusCode.OUT_OF_RANGE,
        grpc.StatusCode.UNAUTHENTICATED,
        grpc.StatusCode.PERMISSION_DENIED,
    }
)
COMPLETE = "/tollgate.v1.GatewayService/Complete"
METADATA = (("authorization", f"Bearer {API_KEY}"),)

FUZZ_SETTINGS = settings(
    max_examples=EXAMPLES,
    deadline=None,
    database=None,
    derandomize=not LONG_RUN,
    suppress_health_check=list(HealthCheck),
)

# ---- strategies ------------------------------------------------------------------------------

plain_text = st.text(st.characters(blacklist_categories=("Cs",)), max_size=40)
# What the gateway takes as an id, tag or contact: printable, at most 256 characters.
label_text = st.text(
    st.characters(blacklist_categories=("Cc", "Cf", "Cs", "Co", "Cn", "Zl", "Zp", "Zs")),
    max_size=40,
)
variable_name = st.from_regex(r"[A-Za-z_][A-Za-z0-9_]{0,20}", fullmatch=True)
sized_text = st.one_of(
    plain_text,
    st.builds(
        lambda c, n: c * n,
        st.sampled_from(["a", "é", "🏠", " ", "\x00"]),
        st.sampled_from([0, 1, 5_000, 300_000, 3_000_000]),
    ),
)


def nested_value(depth: int) -> struct_pb2.Value:
    value = struct_pb2.Value(string_value="leaf")
    for level in range(depth):
        outer = struct_pb2.Value()
        if level % 2:
            outer.list_value.values.add().CopyFrom(value)
        else:
            outer.struct_value.fields["k"].CopyFrom(value)
        value = outer
    return value


@st.composite
def tool_input(draw: st.DrawFn) -> struct_pb2.Struct:
    result = struct_pb2.Struct()
    # Deeper than this cannot even be built here; raw_request sends deeper nesting as bytes.
    result.fields["deep"].CopyFrom(nested_value(draw(st.integers(0, 20))))
    result.fields["n"].number_value = draw(st.floats(allow_nan=True, allow_infinity=True))
    return result


@st.composite
def content_block(draw: st.DrawFn) -> common_pb2.ContentBlock:
    kind = draw(st.sampled_from(["text", "tool_use", "tool_result", "image", "empty"]))
    block = common_pb2.ContentBlock()
    if kind == "text":
        block.text.text = draw(sized_text)
    elif kind == "tool_use":
        block.tool_use.id = draw(plain_text)
        block.tool_use.name = draw(plain_text)
        block.tool_use.input.CopyFrom(draw(tool_input()))
    elif kind == "tool_result":
        block.tool_result.tool_use_id = draw(plain_text)
        block.tool_result.content.add().text.text = draw(plain_text)
        block.tool_result.is_error = draw(st.booleans())
    elif kind == "image":
        block.image.media_type = draw(plain_text)
        block.image.data = draw(st.binary(max_size=64))
    return block


@st.composite
def messages(draw: st.DrawFn) -> list[common_pb2.Message]:
    count = draw(st.sampled_from([0, 1, 2, 3, 5, 2_001, 5_000]))
    roles = st.integers(-3, 9)  # includes unknown enum values
    pattern = [
        common_pb2.Message(
            role=draw(roles), content=draw(st.lists(content_block(), min_size=0, max_size=3))
        )
        for _ in range(min(count, 4))
    ]
    if count > 4:
        # Thousands of messages: alternate valid turns, so validation must count them.
        turn = [common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT]
        pattern = [
            common_pb2.Message(
                role=turn[i % 2],
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=f"turn {i}"))],
            )
            for i in range(count)
        ]
    return pattern


@st.composite
def completion(draw: st.DrawFn) -> gateway_pb2.Completion:
    request = common_pb2.ClaudeRequest(
        model=draw(st.one_of(st.sampled_from(["", "claude-sonnet-5-5", "gpt-4"]), plain_text)),
        messages=draw(messages()),
        max_tokens=draw(st.one_of(st.integers(0, 2_000), st.integers(0, 2**32 - 1))),
    )
    request.system.extend(draw(st.lists(content_block(), max_size=2)))
    if draw(st.booleans()):
        request.temperature = draw(st.floats(allow_nan=True, allow_infinity=True))
    if draw(st.booleans()):
        request.top_p = draw(st.floats(allow_nan=True, allow_infinity=True))
    if draw(st.booleans()):
        request.top_k = draw(st.integers(0, 2**32 - 1))
    request.stop_sequences.extend(draw(st.lists(plain_text, max_size=3)))
    for _ in range(draw(st.integers(0, 2))):
        tool = request.tools.add(name=draw(plain_text), description=draw(plain_text))
        tool.input_schema.CopyFrom(draw(tool_input()))
    return gateway_pb2.Completion(
        request=request,
        task=draw(st.integers(-3, 40)),  # includes unknown enum values
        contact_id=draw(sized_text),
        request_id=draw(plain_text),
        conversation_id=draw(plain_text),
        template_variables=draw(st.dictionaries(plain_text, plain_text, max_size=3)),
        tags=draw(st.lists(plain_text, max_size=5)),
    )


@st.composite
def plausible_completion(draw: st.DrawFn) -> gateway_pb2.Completion:
    """A request that passes validation, with hostile values where the API allows any: these
    reach the caches, the ledger and the orchestrator."""
    text = draw(st.text(st.characters(blacklist_categories=("Cs",)), min_size=1, max_size=300))
    request = common_pb2.ClaudeRequest(
        model=draw(st.sampled_from(["", "claude-sonnet-5-5", "claude-haiku-5-5"])),
        max_tokens=draw(st.integers(1, 2_000)),
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
            )
        ],
    )
    if draw(st.booleans()):
        request.temperature = draw(st.floats(0.0, 1.0))
    request.stop_sequences.extend(draw(st.lists(plain_text.filter(bool), max_size=2)))
    return gateway_pb2.Completion(
        request=request,
        task=draw(st.sampled_from(list(common_pb2.TaskType.values()))),
        contact_id=draw(label_text),
        request_id=draw(label_text),
        conversation_id=draw(label_text),
        # Names the API allows; any text as values: these reach the caches and the template.
        template_variables=draw(st.dictionaries(variable_name, plain_text, max_size=3)),
        tags=draw(st.lists(label_text.filter(bool), max_size=5)),
    )


def _varint(value: int) -> bytes:
    value &= (1 << 64) - 1  # negative numbers go on the wire as ten-byte two's complement
    out = bytearray()
    while True:
        byte = value & 0x7F
        value >>= 7
        if value:
            out.append(byte | 0x80)
        else:
            out.append(byte)
            return bytes(out)


def _field(number: int, payload: bytes) -> bytes:
    return _varint(number << 3 | 2) + _varint(len(payload)) + payload


@st.composite
def raw_request(draw: st.DrawFn) -> bytes:
    """Bytes no well-behaved client sends: invalid UTF-8 in strings, negative varints, junk."""
    kind = draw(st.sampled_from(["junk", "bad_utf8", "negative", "deep"]))
    if kind == "junk":
        return draw(st.binary(max_size=256))
    if kind == "deep":
        struct = b""
        for _ in range(draw(st.integers(20, 400))):
            value = _field(5, struct)  # Value.struct_value
            struct = _field(1, _field(1, b"k") + _field(2, value))  # Struct.fields entry
        tool_use = _field(1, b"t1") + _field(2, b"lookup") + _field(3, struct)
        message = _varint(1 << 3) + _varint(2) + _field(2, _field(3, tool_use))
        return _field(1, _field(1, _field(3, message) + _varint(6 << 3) + _varint(100)))
    if kind == "bad_utf8":
        bad = draw(st.sampled_from([b"\xff", b"\xc3\x28", b"\xed\xa0\x80", b"a\x80b"]))
        text_block = _field(1, _field(1, bad))  # ContentBlock.text.text
        message = _varint(1 << 3) + _varint(1) + _field(2, text_block)  # role=user, content
        request = _field(3, message) + _varint(6 << 3) + _varint(100)
        where = draw(st.sampled_from(["text", "request_id", "tag"]))
        body = (
            _field(1, request)
            if where == "text"
            else _field(1, gateway_pb2.Completion().SerializeToString()) + _field(4, bad)
            if where == "request_id"
            else _field(7, bad)
        )
        return _field(1, body)
    number = draw(st.integers(-(2**63), -1))
    request = _varint(6 << 3) + _varint(number) + _varint(9 << 3) + _varint(number)
    return _field(1, _field(1, request) + _varint(2 << 3) + _varint(number))


# ---- the tests -------------------------------------------------------------------------------


def _run_fuzz(
    address: str, target: Callable[[Any], grpc.StatusCode], strategy: Any
) -> Counter[str]:
    codes: Counter[str] = Counter()

    @FUZZ_SETTINGS
    @given(strategy)
    def check(case: Any) -> None:
        code = target(case)
        codes[code.name] += 1
        assert code in DEFINED, f"undefined status {code.name} for hostile input"

    check()
    return codes


def _caller(address: str, raw: bool) -> tuple[grpc.Channel, Callable[[Any], grpc.StatusCode]]:
    channel = grpc.insecure_channel(
        address, options=[("grpc.max_send_message_length", 64 * 1024 * 1024)]
    )
    if raw:
        method = channel.unary_unary(COMPLETE)  # bytes in, bytes out
    else:
        method = channel.unary_unary(
            COMPLETE,
            request_serializer=gateway_pb2.CompleteRequest.SerializeToString,
            response_deserializer=gateway_pb2.CompleteResponse.FromString,
        )

    def call(case: Any) -> grpc.StatusCode:
        payload = case if raw else gateway_pb2.CompleteRequest(completion=case)
        try:
            method(payload, metadata=METADATA, timeout=30)
        except grpc.RpcError as exc:
            return exc.code()  # type: ignore[no-any-return]
        return grpc.StatusCode.OK

    return channel, call


async def _fuzz(suite: FullSuite, strategy: Any, raw: bool) -> Counter[str]:
    channel, call = _caller(suite.gateway.address, raw)
    try:
        # The servers share this event loop: drive the blocking client from a thread.
        codes = await asyncio.to_thread(_run_fuzz, suite.gateway.address, call, strategy)
    finally:
        channel.close()
    print(f"\nfuzz {'raw bytes' if raw else 'protos'}: {sum(codes.values())} cases, {dict(codes)}")
    await _assert_healthy(suite)
    return codes


async def _assert_healthy(suite: FullSuite) -> None:
    for name, server in suite.servers.items():
        channel = grpc.aio.insecure_channel(server.address)
        try:
            reply = await health_pb2_grpc.HealthStub(channel).Check(health_pb2.HealthCheckRequest())
        finally:
            await channel.close()
        assert reply.status == health_pb2.HealthCheckResponse.SERVING, name
    async with suite.client() as client:
        answer = await client.complete(
            messages=[{"role": "user", "content": "Still there?"}], max_tokens=200
        )
    assert answer.text


async def test_fuzzed_completions_get_only_defined_statuses(full_suite: FullSuite) -> None:
    codes = await _fuzz(full_suite, st.one_of(completion(), plausible_completion()), raw=False)
    assert sum(codes.values()) >= min(EXAMPLES, 50)
    # The generator reaches both sides: refusals and answers.
    assert codes["INVALID_ARGUMENT"] > 0
    assert codes["OK"] > 0


async def test_fuzzed_raw_bytes_get_only_defined_statuses(full_suite: FullSuite) -> None:
    codes = await _fuzz(full_suite, raw_request(), raw=True)
    assert sum(codes.values()) >= min(EXAMPLES, 50)
