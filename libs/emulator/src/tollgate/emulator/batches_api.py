"""Routes of the Message Batches API (``/v1/messages/batches``)."""

from __future__ import annotations

from aiohttp import web

from tollgate.emulator.errors import invalid_request
from tollgate.emulator.web_support import SCOPE, json_response, read_json, state_of

_DEFAULT_PAGE = 20
_MAX_PAGE = 1000


def _base_url(request: web.Request) -> str:
    # results_url must point back at this server, whatever port it runs on.
    return f"{request.scheme}://{request.host}"


def _batch_id(request: web.Request) -> str:
    return request.match_info["batch_id"]


async def create_batch(request: web.Request) -> web.StreamResponse:
    batch = state_of(request).batches.create(await read_json(request), request[SCOPE])
    return json_response(batch.to_dict(_base_url(request)))


async def retrieve_batch(request: web.Request) -> web.StreamResponse:
    batch = state_of(request).batches.get(_batch_id(request))
    return json_response(batch.to_dict(_base_url(request)))


async def cancel_batch(request: web.Request) -> web.StreamResponse:
    batch = state_of(request).batches.cancel(_batch_id(request))
    return json_response(batch.to_dict(_base_url(request)))


async def delete_batch(request: web.Request) -> web.StreamResponse:
    state_of(request).batches.delete(_batch_id(request))
    return json_response({"id": _batch_id(request), "type": "message_batch_deleted"})


async def batch_results(request: web.Request) -> web.StreamResponse:
    body = state_of(request).batches.results_jsonl(_batch_id(request))
    return web.Response(body=body, content_type="application/x-jsonl")


def _page_size(request: web.Request) -> int:
    raw = request.query.get("limit", str(_DEFAULT_PAGE))
    try:
        limit = int(raw)
    except ValueError:
        raise invalid_request("limit: Input should be a valid integer") from None
    if not 1 <= limit <= _MAX_PAGE:
        raise invalid_request(f"limit: Input should be between 1 and {_MAX_PAGE}")
    return limit


async def list_batches(request: web.Request) -> web.StreamResponse:
    store = state_of(request).batches
    limit = _page_size(request)
    after_id = request.query.get("after_id")
    before_id = request.query.get("before_id")
    page = store.page(limit, after_id, before_id)
    base_url = _base_url(request)
    return json_response(
        {
            "data": [batch.to_dict(base_url) for batch in page],
            "has_more": store.has_more(limit, after_id, before_id),
            "first_id": page[0].id if page else None,
            "last_id": page[-1].id if page else None,
        }
    )


def add_routes(app: web.Application) -> None:
    app.router.add_post("/v1/messages/batches", create_batch)
    app.router.add_get("/v1/messages/batches", list_batches)
    app.router.add_get("/v1/messages/batches/{batch_id}", retrieve_batch)
    app.router.add_delete("/v1/messages/batches/{batch_id}", delete_batch)
    app.router.add_post("/v1/messages/batches/{batch_id}/cancel", cancel_batch)
    app.router.add_get("/v1/messages/batches/{batch_id}/results", batch_results)
