"""`POST /v1/tollgate/classify`: the Classify RPC over HTTP.

The body is a `ClassifyRequest` in protobuf's JSON mapping (`instructions`, `items`,
`max_items_per_call`, `bypass_cache`, `request_id`); an unknown field is a 400. The answer is
JSON lines (`application/x-ndjson`), one `{"type": "result", "result": {...}}` per item as it
comes, then `{"type": "done", "items": n}`. A refusal before the first result (a bad request, a
budget that does not cover the first chunk) is an ordinary error response; one after results
went out (a budget that ran out mid-run) is a last line `{"type": "error", "error": {...}}` in
Anthropic's error shape, and no `done` line.
"""

from __future__ import annotations

import contextlib
import json
from collections.abc import AsyncGenerator
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import json_format

from tollgate.common.errors import ServiceError, invalid_argument
from tollgate.gateway.http import errors, inbound
from tollgate.v1 import gateway_pb2

if TYPE_CHECKING:
    from tollgate.gateway.service import GatewayServicer

PATH = "/v1/tollgate/classify"


def _line(value: dict[str, Any]) -> bytes:
    return json.dumps(value, ensure_ascii=False).encode() + b"\n"


def result_line(reply: gateway_pb2.ClassifyResponse) -> bytes:
    result = json_format.MessageToDict(reply.result, preserving_proto_field_name=True)
    return _line({"type": "result", "result": result})


def classify_request(body: dict[str, Any]) -> gateway_pb2.ClassifyRequest:
    try:
        return json_format.ParseDict(body, gateway_pb2.ClassifyRequest())
    except json_format.ParseError as exc:
        raise invalid_argument(f"The body is not a classify request: {exc}.") from None


class ClassifyRoute:
    def __init__(self, servicer: GatewayServicer) -> None:
        self._servicer = servicer

    def add_to(self, app: web.Application) -> None:
        app.router.add_post(PATH, self.classify)

    async def classify(self, request: web.Request) -> web.StreamResponse:
        key = self._servicer.authenticate(inbound.authorization(request.headers))
        call = classify_request(inbound.parse_body(await request.read()))
        replies: AsyncGenerator[gateway_pb2.ClassifyResponse, None] = self._servicer.classify(
            key, call
        )
        async with contextlib.aclosing(replies):
            # The first result (or the refusal) before any byte, so a refusal keeps its status.
            first = await anext(replies)
            response = web.StreamResponse(headers={"content-type": "application/x-ndjson"})
            await response.prepare(request)
            await response.write(result_line(first))
            sent = 1
            try:
                async for reply in replies:
                    await response.write(result_line(reply))
                    sent += 1
            except ServiceError as exc:
                await response.write(_line(errors.from_service_error(exc).payload()))
            else:
                await response.write(_line({"type": "done", "items": sent}))
            await response.write_eof()
        return response
