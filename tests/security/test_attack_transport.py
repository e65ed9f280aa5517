"""Attacks on the transport and the edges (issue 17, findings 6, 8 and 9): memory before
authentication, API keys in logs, nested and image blocks, the context window, inbound trace
context, and what an account says about a failing backend."""

from __future__ import annotations

import asyncio
import base64
import json
import logging
from collections.abc import Iterator
from typing import Any

import grpc
import pytest

from tests.conftest import API_KEY, FullSuite
from tests.gateway_process import GatewayProcess, start_gateway_process
from tests.security.raw_http2 import raw_grpc_call
from tollgate.client import TollgateClient, TollgateError
from tollgate.common import telemetry
from tollgate.common.interceptors import ServerInterceptor
from tollgate.common.logs import GRPC_DECODER_LOGGER
from tollgate.common.settings import ServiceSettings
from tollgate.v1 import gateway_pb2

MIB = 1024 * 1024
# The chart's memory limit for the gateway (deploy/helm/tollgate/values.yaml).
CHART_MEMORY_LIMIT = 512 * MIB
COMPLETE = "/tollgate.v1.GatewayService/Complete"


@pytest.fixture(scope="module")
def gateway_process(tmp_path_factory: pytest.TempPathFactory) -> Iterator[GatewayProcess]:
    running = start_gateway_process(tmp_path_factory.mktemp("gateway"))
    try:
        yield running
    finally:
        running.stop()


async def test_f6_unauthenticated_large_requests_do_not_exhaust_the_gateways_memory(
    gateway_process: GatewayProcess,
) -> None:
    # 60 concurrent 7.9 MB requests without a key took the gateway to 572 MB.
    # A well-formed CompleteRequest, so that a gateway reading it would also parse it.
    text = "Tell me everything about the listing. " * 207_000
    completion = TollgateClient.completion(
        max_tokens=10, messages=[{"role": "user", "content": text}]
    )
    payload = gateway_pb2.CompleteRequest(completion=completion).SerializeToString()
    assert 7_800_000 < len(payload) < 8 * MIB
    options = [("grpc.max_send_message_length", 16 * MIB)]
    async with grpc.aio.insecure_channel(gateway_process.address, options=options) as channel:
        complete = channel.unary_unary(COMPLETE)
        outcomes = await asyncio.gather(
            *(complete(payload, timeout=60) for _ in range(60)), return_exceptions=True
        )
    peak = gateway_process.peak_rss_bytes()
    print(f"gateway peak RSS under the attack: {peak / MIB:.0f} MiB")
    assert gateway_process.process.poll() is None
    assert peak < CHART_MEMORY_LIMIT
    codes = {o.code() for o in outcomes if isinstance(o, grpc.aio.AioRpcError)}
    assert len(codes) == 1, codes
    # Refused for the missing key, before the body was read or parsed.
    assert codes == {grpc.StatusCode.UNAUTHENTICATED}


def _key_with_a_stray_byte() -> bytes:
    return b"Bearer " + API_KEY.encode() + b"\xff"


def test_f8_a_key_with_a_non_utf8_byte_is_in_no_output_of_the_gateway_process(
    gateway_process: GatewayProcess,
) -> None:
    reply = raw_grpc_call(
        gateway_process.port, COMPLETE, [(b"authorization", _key_with_a_stray_byte())], b""
    )
    assert reply.get(b"grpc-status") == b"16"  # UNAUTHENTICATED
    # The process writes its logs as it goes; a second call flushes anything still buffered.
    raw_grpc_call(gateway_process.port, COMPLETE, [(b"authorization", b"Bearer x")], b"")
    output = gateway_process.output()
    assert "not valid UTF-8" in output  # the odd bytes are reported ...
    assert API_KEY not in output  # ... without the key
    assert API_KEY[:12] not in output


async def test_f8_a_key_with_a_non_utf8_byte_is_in_no_log_record_in_process(
    full_suite: FullSuite, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.DEBUG)
    caplog.set_level(logging.DEBUG, logger=GRPC_DECODER_LOGGER)
    reply = await asyncio.to_thread(
        raw_grpc_call,
        full_suite.gateway.port,
        COMPLETE,
        [(b"authorization", _key_with_a_stray_byte())],
        b"",
    )
    assert reply.get(b"grpc-status") == b"16"
    formatter = logging.Formatter("%(name)s %(message)s")
    # Everything the servers log in this process, grpc's own loggers included; not the test's
    # HTTP/2 client (hpack, h2), which logs the headers it encodes.
    text = "\n".join(
        formatter.format(record)
        for record in caplog.records
        if not record.name.startswith(("hpack", "h2"))
    )
    assert "not valid UTF-8" in text
    assert API_KEY not in text
    assert "tg_test_app" not in text


async def _refused(suite: FullSuite, **request: Any) -> TollgateError:
    async with suite.client(API_KEY) as acme:
        with pytest.raises(TollgateError) as caught:
            await acme.complete(**request)
    return caught.value


def _question(content: Any, **extra: Any) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "max_tokens": 100,
        "messages": [{"role": "user", "content": content}],
        **extra,
    }


def _image(media_type: str, data: bytes) -> dict[str, Any]:
    source = {"type": "base64", "media_type": media_type, "data": base64.b64encode(data).decode()}
    return {"type": "image", "source": source}


_TOOL_TURN = [
    {"role": "user", "content": "Look up the lead."},
    {
        "role": "assistant",
        "content": [{"type": "tool_use", "id": "tu_1", "name": "crm_lookup", "input": {}}],
    },
]


@pytest.mark.parametrize(
    ("inner", "sentence"),
    [
        ({"type": "text", "text": ""}, "empty text block"),
        ({"type": "tool_use", "id": "tu_2", "name": "x", "input": {}}, "only text and image"),
        (
            {
                "type": "image",
                "source": {"type": "base64", "media_type": "image/png", "data": "QUJD"},
            },
            "not a image/png file",
        ),
    ],
)
async def test_f9_a_malformed_block_inside_a_tool_result_is_invalid_argument(
    full_suite: FullSuite, inner: dict[str, Any], sentence: str
) -> None:
    messages = [
        *_TOOL_TURN,
        {
            "role": "user",
            "content": [{"type": "tool_result", "tool_use_id": "tu_1", "content": [inner]}],
        },
    ]
    error = await _refused(
        full_suite,
        model="claude-sonnet-5-5",
        max_tokens=100,
        messages=messages,
        tools=[{"name": "crm_lookup", "input_schema": {"type": "object"}}],
    )
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sentence in str(error)
    assert full_suite.upstream_calls() == 0


PNG = b"\x89PNG\r\n\x1a\n" + bytes(64)


@pytest.mark.parametrize(
    ("media_type", "data", "sentence"),
    [
        ("image/bmp", PNG, "Unsupported image media_type"),
        ("image/png", b"", "no data"),
        ("image/png", b"iVBORw0KGgo=", "not a image/png file"),  # base64 text, not bytes
        ("image/jpeg", PNG, "not a image/jpeg file"),
        # Past the image limit (3.75 MiB of bytes), inside the request limit (4 MiB).
        ("image/png", b"\x89PNG\r\n\x1a\n" + bytes(3_990_000), "the limit is"),
    ],
)
async def test_f9_images_are_validated(
    full_suite: FullSuite, media_type: str, data: bytes, sentence: str
) -> None:
    import base64

    block = {
        "type": "image",
        "source": {
            "type": "base64",
            "media_type": media_type,
            "data": base64.b64encode(data).decode(),
        },
    }
    error = await _refused(full_suite, **_question([block]))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert sentence in str(error)
    assert full_suite.upstream_calls() == 0


async def test_f9_a_prompt_past_the_models_context_window_is_refused_before_forwarding(
    full_suite: FullSuite, read_usage: Any
) -> None:
    # About 230k tokens of text (and well inside the request size limit).
    error = await _refused(full_suite, **_question("Tell me about 12 Elm Street. " * 33_000))
    assert error.code == grpc.StatusCode.INVALID_ARGUMENT
    assert "context window" in str(error)
    assert full_suite.upstream_calls() == 0
    assert await read_usage(full_suite, "acme") == (0, 0)


async def _what_a_backend_would_receive(keep_caller_baggage: bool) -> dict[str, str]:
    """Serve one call through the shared server interceptor, configured as the gateway (False)
    or a backend (True), with a caller's traceparent and baggage; return the metadata the
    handler's own calls to other services would carry (what `open_channel` injects)."""

    async def handler(_request: bytes, _context: grpc.aio.ServicerContext) -> bytes:
        return json.dumps(dict(telemetry.inject_metadata())).encode()

    server = grpc.aio.server(
        interceptors=[ServerInterceptor("probe", keep_caller_baggage=keep_caller_baggage)]
    )
    server.add_generic_rpc_handlers(
        (
            grpc.method_handlers_generic_handler(
                "probe.Probe", {"Call": grpc.unary_unary_rpc_method_handler(handler)}
            ),
        )
    )
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    try:
        async with grpc.aio.insecure_channel(f"127.0.0.1:{port}") as channel:
            reply = await channel.unary_unary("/probe.Probe/Call")(
                b"",
                metadata=(
                    ("traceparent", f"00-{CALLER_TRACE}-00f067aa0ba902b7-01"),
                    ("baggage", "tenant=globex,role=operator"),
                ),
                timeout=10,
            )
    finally:
        await server.stop(None)
    return dict(json.loads(reply))


CALLER_TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"


async def test_f9_a_callers_baggage_does_not_reach_the_backends() -> None:
    at_gateway = await _what_a_backend_would_receive(keep_caller_baggage=False)
    assert "baggage" not in at_gateway
    # The trace is continued all the same: one trace from the caller down to Claude.
    assert CALLER_TRACE in at_gateway["traceparent"]
    # A backend keeps what the gateway sends it (the test sees the difference).
    at_backend = await _what_a_backend_would_receive(keep_caller_baggage=True)
    assert "tenant=globex" in at_backend["baggage"]


def test_f9_the_gateway_drops_caller_baggage_by_default() -> None:
    from tollgate.gateway.settings import Settings as GatewaySettings

    assert GatewaySettings().keep_caller_baggage is False
    assert ServiceSettings().keep_caller_baggage is True


@pytest.mark.xfail(
    strict=True,
    reason="pipeline fix pending: OptimizationReport.detail comes from "
    "tollgate.gateway.public_detail.skipped_detail, not the raw error",
)
async def test_f9_an_account_never_shows_a_backends_address_or_raw_error(
    full_suite: FullSuite,
) -> None:
    flags = {
        "version": 1,
        "flags": {
            "semantic_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
            "exact_cache": {"enabled": True, "rolloutPercent": 100, "mode": "enforce"},
        },
    }
    full_suite.write_flags(flags)
    await asyncio.sleep(0.5)  # the flags file is polled every 0.2 s in the suite
    async with full_suite.client(API_KEY) as acme:
        answer = await acme.complete(**_question("What is the asking price of 12 Elm Street?"))
    details = [report.detail for report in answer.account.optimizations]
    assert any("semantic" in detail for detail in details), details
    for detail in details:
        for leak in ("127.0.0.1", ":9", "failed to connect", "ipv4", "unavailable:"):
            assert leak not in detail, detail
