"""`/v1/messages/batches` in the shape of Anthropic's Message Batches API, over the gateway's
BatchCalls (the orchestrator's batch RPCs, a budget hold at the batch price)."""

from __future__ import annotations

import json
from datetime import timedelta
from typing import TYPE_CHECKING, Any

from aiohttp import web
from google.protobuf import timestamp_pb2

from tollgate.common.anthropic_format import response_to_json
from tollgate.common.auth import ApiKey
from tollgate.common.errors import invalid_argument
from tollgate.common.ids import new_request_id
from tollgate.common.logs import annotate
from tollgate.gateway.batches import BatchCalls
from tollgate.gateway.http import inbound
from tollgate.v1 import common_pb2, gateway_pb2, orchestrator_pb2

if TYPE_CHECKING:
    from tollgate.gateway.service import GatewayServicer

_STATUS = {
    orchestrator_pb2.BATCH_STATUS_IN_PROGRESS: "in_progress",
    orchestrator_pb2.BATCH_STATUS_CANCELING: "canceling",
    orchestrator_pb2.BATCH_STATUS_ENDED: "ended",
}
# How long Anthropic keeps a batch processing before its items expire.
_EXPIRY = timedelta(hours=24)
_OUTCOMES = ("errored", "canceled", "expired")


def _time(stamp: timestamp_pb2.Timestamp, later: timedelta = timedelta()) -> str | None:
    if not stamp.seconds and not stamp.nanos:
        return None
    return (stamp.ToDatetime() + later).isoformat(timespec="microseconds") + "Z"


def batch_json(batch: orchestrator_pb2.Batch, base_url: str) -> dict[str, Any]:
    ended = batch.status == orchestrator_pb2.BATCH_STATUS_ENDED
    counts = batch.counts
    return {
        "id": batch.id,
        "type": "message_batch",
        "processing_status": _STATUS.get(batch.status, "in_progress"),
        "request_counts": {
            "processing": counts.processing,
            "succeeded": counts.succeeded,
            "errored": counts.errored,
            "canceled": counts.canceled,
            "expired": counts.expired,
        },
        "created_at": _time(batch.created_at),
        "ended_at": _time(batch.ended_at),
        "expires_at": _time(batch.created_at, _EXPIRY),
        "archived_at": None,
        "cancel_initiated_at": None,
        "results_url": f"{base_url}/v1/messages/batches/{batch.id}/results" if ended else None,
    }


def result_line(item: orchestrator_pb2.GetBatchResultsResponse) -> bytes:
    result: dict[str, Any]
    if item.HasField("result"):
        result = {"type": "succeeded", "message": response_to_json(item.result.response)}
    else:
        # The orchestrator says "errored: <why>", "canceled" or "expired".
        kind, _, why = item.error.partition(":")
        kind = kind if kind in _OUTCOMES else "errored"
        result = {"type": kind}
        if kind == "errored":
            error = {"type": "api_error", "message": why.strip() or item.error}
            result["error"] = {"type": "error", "error": error}
    return json.dumps({"custom_id": item.custom_id, "result": result}).encode() + b"\n"


def _items(body: dict[str, Any], headers: Any) -> list[tuple[str, gateway_pb2.Completion]]:
    requests = body.get("requests")
    if not isinstance(requests, list) or not requests:
        raise invalid_argument("requests: a batch needs a non-empty list of requests.", "requests")
    items = []
    for i, entry in enumerate(requests):
        if not isinstance(entry, dict) or not isinstance(entry.get("params"), dict):
            raise invalid_argument(f"requests.{i}: needs custom_id and params.", f"requests.{i}")
        items.append(
            (str(entry.get("custom_id", "")), inbound.completion(entry["params"], headers))
        )
    return items


def _limit(text: str | None) -> int:
    """`?limit=`: absent is the default page (0); anything but a positive whole number is refused
    here, the upper bound by the orchestrator."""
    if text is None:
        return 0
    if not (text.isascii() and text.isdigit()) or int(text) < 1:
        raise invalid_argument(
            f"limit must be a positive whole number (got {text[:40]!r}).", "limit"
        )
    return int(text)


class BatchRoutes:
    def __init__(self, servicer: GatewayServicer, batches: BatchCalls) -> None:
        self._servicer = servicer
        self._batches = batches

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/messages/batches", self.create)
        app.router.add_get("/v1/messages/batches", self.list)
        app.router.add_get("/v1/messages/batches/{batch_id}", self.retrieve)
        app.router.add_post("/v1/messages/batches/{batch_id}/cancel", self.cancel)
        app.router.add_get("/v1/messages/batches/{batch_id}/results", self.results)

    def _context(self, request: web.Request) -> common_pb2.RequestContext:
        return self._context_of(self._key(request), request)

    def _key(self, request: web.Request) -> ApiKey:
        return self._servicer.authenticate(inbound.authorization(request.headers))

    @staticmethod
    def _context_of(key: ApiKey, request: web.Request) -> common_pb2.RequestContext:
        request_id = request.headers.get(inbound.REQUEST_ID_HEADER) or new_request_id()
        annotate(request_id=request_id)
        return common_pb2.RequestContext(
            tenant_id=key.tenant, api_key_id=key.id, request_id=request_id
        )

    @staticmethod
    def _base_url(request: web.Request) -> str:
        return f"{request.scheme}://{request.host}"

    async def create(self, request: web.Request) -> web.Response:
        key = self._key(request)
        items = _items(inbound.parse_body(await request.read()), request.headers)
        for _, completion in items:
            # Each item is validated and counted against the key's rate limits like a message.
            await self._servicer.accept(key, completion)
        context = self._context_of(key, request)
        batch = await self._batches.create(context, items)
        return web.json_response(batch_json(batch, self._base_url(request)))

    async def retrieve(self, request: web.Request) -> web.Response:
        batch = await self._batches.get(self._context(request), request.match_info["batch_id"])
        return web.json_response(batch_json(batch, self._base_url(request)))

    async def cancel(self, request: web.Request) -> web.Response:
        batch = await self._batches.cancel(self._context(request), request.match_info["batch_id"])
        return web.json_response(batch_json(batch, self._base_url(request)))

    async def list(self, request: web.Request) -> web.Response:
        query = request.query
        page = await self._batches.list(
            self._context(request),
            _limit(query.get("limit")),
            query.get("before_id", ""),
            query.get("after_id", ""),
        )
        batches = [batch_json(b, self._base_url(request)) for b in page.batches]
        return web.json_response(
            {
                "data": batches,
                "has_more": page.has_more,
                "first_id": batches[0]["id"] if batches else None,
                "last_id": batches[-1]["id"] if batches else None,
            }
        )

    async def results(self, request: web.Request) -> web.StreamResponse:
        context = self._context(request)
        items = self._batches.results(context, request.match_info["batch_id"])
        # The first item (or the refusal: unknown batch, still processing) before any byte.
        first = await anext(items, None)
        response = web.StreamResponse(headers={"content-type": "application/binary"})
        await response.prepare(request)
        if first is not None:
            await response.write(result_line(first))
            async for item in items:
                await response.write(result_line(item))
        await response.write_eof()
        return response
