"""The stack's floor: what a pass-through costs on grpc.aio, aiohttp and json alone.

`bench.peer` judges Tollgate's CPU per request against absolute goals. This server tells how
much of a cell is the stack every service is built on rather than Tollgate's own code: the
gateway's public API (`GatewayService/Complete`, the same messages, the same client), answered
with nothing but what any pass-through on this stack must do — a bare `grpc.aio` server on
uvloop (no interceptors, logs, metrics or spans), the request turned into a Messages body, one
aiohttp POST to the emulator, the reply parsed with `json` into the response message.

With `--next`, the server instead forwards each call over one more bare gRPC hop to another
floor server, which makes the HTTP call: the floor of the seven-process deployment, where the
gateway calls the orchestrator over gRPC.

Only text content, no streaming, no errors worth the name: it is a measuring stick, not a proxy.

    python -m bench.stack_floor --port P --upstream http://127.0.0.1:E --model M
                                [--next 127.0.0.1:Q]
"""

from __future__ import annotations

import argparse
import asyncio
import json
from typing import Any

import aiohttp
import grpc
import uvloop

from tollgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc

_ROLES = {common_pb2.ROLE_USER: "user", common_pb2.ROLE_ASSISTANT: "assistant"}
_STOP_REASONS = {"end_turn": common_pb2.STOP_REASON_END_TURN}


def messages_body(request: common_pb2.ClaudeRequest, model: str) -> bytes:
    """The Messages API body of a text-only request (`model` when it names none: the gateway
    routes such a request to its task's model)."""
    body: dict[str, Any] = {
        "model": request.model or model,
        "max_tokens": request.max_tokens,
        "messages": [
            {
                "role": _ROLES[m.role],
                "content": [{"type": "text", "text": b.text.text} for b in m.content],
            }
            for m in request.messages
        ],
    }
    if request.system:
        body["system"] = [{"type": "text", "text": b.text.text} for b in request.system]
    if request.HasField("temperature"):
        body["temperature"] = request.temperature
    return json.dumps(body).encode()


def response_message(reply: dict[str, Any]) -> common_pb2.ClaudeResponse:
    """The response message of a Messages API reply (text blocks only)."""
    usage = reply.get("usage", {})
    return common_pb2.ClaudeResponse(
        id=reply["id"],
        model=reply["model"],
        content=[
            common_pb2.ContentBlock(text=common_pb2.TextBlock(text=block["text"]))
            for block in reply["content"]
            if block["type"] == "text"
        ],
        stop_reason=_STOP_REASONS.get(reply.get("stop_reason") or "", 0),
        usage=common_pb2.Usage(
            input_tokens=usage.get("input_tokens", 0), output_tokens=usage.get("output_tokens", 0)
        ),
    )


class FloorServicer(gateway_pb2_grpc.GatewayServiceServicer):
    """`Complete` by one HTTP call, or by one more gRPC hop (`forward`)."""

    def __init__(
        self,
        upstream: str,
        model: str,
        forward: gateway_pb2_grpc.GatewayServiceStub | None = None,
    ) -> None:
        self._url = f"{upstream}/v1/messages"
        self._model = model
        self._forward = forward
        self._http: aiohttp.ClientSession | None = None

    async def Complete(
        self, request: gateway_pb2.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.CompleteResponse:
        if self._forward is not None:
            reply: gateway_pb2.CompleteResponse = await self._forward.Complete(request)
            return reply
        if self._http is None:
            self._http = aiohttp.ClientSession(
                headers={
                    "x-api-key": "floor",
                    "anthropic-version": "2023-06-01",
                    "content-type": "application/json",
                }
            )
        body = messages_body(request.completion.request, self._model)
        async with self._http.post(self._url, data=body) as answer:
            parsed = json.loads(await answer.read())
        return gateway_pb2.CompleteResponse(response=response_message(parsed))


async def serve(port: int, upstream: str, model: str, next_address: str | None) -> None:
    forward = None
    if next_address:
        forward = gateway_pb2_grpc.GatewayServiceStub(grpc.aio.insecure_channel(next_address))
    server = grpc.aio.server()
    gateway_pb2_grpc.add_GatewayServiceServicer_to_server(
        FloorServicer(upstream, model, forward), server
    )
    server.add_insecure_port(f"127.0.0.1:{port}")
    await server.start()
    await server.wait_for_termination()


def main() -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.stack_floor", description=__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--upstream", required=True, help="the emulator's base URL")
    parser.add_argument("--model", required=True, help="for requests that name none")
    parser.add_argument("--next", help="forward each call to the floor server at this address")
    args = parser.parse_args()
    with asyncio.Runner(loop_factory=uvloop.new_event_loop) as runner:
        runner.run(serve(args.port, args.upstream, args.model, args.next))


if __name__ == "__main__":
    main()
