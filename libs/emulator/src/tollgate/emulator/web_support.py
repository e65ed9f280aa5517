"""HTTP plumbing shared by all routes: request ids, auth, records, error bodies.

The middleware is the single place where an ``ApiError`` (or an aiohttp
routing error) becomes a real-shaped error response, and where every
``/v1/...`` request is recorded in the stats, so handlers only deal with the
happy path.
"""

from __future__ import annotations

import asyncio
import json
import logging
from collections.abc import Awaitable, Callable
from typing import Any

from aiohttp import web

from tollgate.emulator.errors import ApiError, error_body, invalid_request, new_request_id
from tollgate.emulator.state import EmulatorState, api_key_scope
from tollgate.emulator.stats import RequestRecord, pick_headers

STATE_KEY = web.AppKey("emulator_state", EmulatorState)
REQUEST_ID = web.RequestKey("emulator_request_id", str)
RECORD = web.RequestKey("emulator_record", RequestRecord)
SCOPE = web.RequestKey("emulator_scope", str)
# Set once the socket is gone: the response object returned after that is never sent.
NO_RESPONSE = web.RequestKey("emulator_no_response", bool)

logger = logging.getLogger(__name__)

_POLL_SECONDS = 0.02
_HTTP_ERROR_TYPES = {404: "not_found_error", 413: "request_too_large"}

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def state_of(request: web.Request) -> EmulatorState:
    return request.app[STATE_KEY]


def record_of(request: web.Request) -> RequestRecord:
    return request[RECORD]


def json_response(
    body: Any, status: int = 200, headers: dict[str, str] | None = None
) -> web.Response:
    return web.Response(
        text=json.dumps(body, ensure_ascii=False),
        status=status,
        headers=headers,
        content_type="application/json",
    )


async def read_json(request: web.Request) -> Any:
    """The parsed body, also kept on the request's record."""
    try:
        body = json.loads(await request.read() or b"null")
    except (UnicodeDecodeError, json.JSONDecodeError) as error:
        raise invalid_request(f"There was an error parsing the body: {error}") from None
    record = request.get(RECORD)
    if record is not None:
        record.body = body
        if isinstance(body, dict):
            model = body.get("model")
            record.model = model if isinstance(model, str) else None
            record.stream = body.get("stream") is True
    return body


def client_gone(request: web.Request) -> bool:
    transport = request.transport
    return transport is None or transport.is_closing()


async def wait_unless_gone(request: web.Request, seconds: float) -> bool:
    """Sleep, watching the socket; False as soon as the client has hung up."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + seconds
    while True:
        if client_gone(request):
            return False
        remaining = deadline - loop.time()
        if remaining <= 0:
            return True
        await asyncio.sleep(min(remaining, _POLL_SECONDS))


def drop_connection(request: web.Request) -> None:
    """Close the socket without (the rest of) a response, like a failing load balancer."""
    transport = request.transport
    if transport is not None:
        transport.close()
    state_of(request).stats.connections_dropped += 1


def note_client_disconnect(request: web.Request) -> None:
    state_of(request).stats.client_disconnects += 1
    record_of(request).client_disconnected = True


def no_response(request: web.Request) -> web.Response:
    """What a handler returns once the socket is gone: nothing of it reaches anyone.

    aiohttp still wants a response object; writing it fails quietly on the closed
    socket, and the record keeps status None.
    """
    request[NO_RESPONSE] = True
    return web.Response(status=500)


def _error_response(
    request: web.Request, status: int, error_type: str, message: str
) -> web.Response:
    body = error_body(error_type, message, request.get(REQUEST_ID))
    return json_response(body, status=status)


@web.middleware
async def api_middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
    request[REQUEST_ID] = new_request_id()
    state = state_of(request)
    record: RequestRecord | None = None
    if request.path.startswith("/v1/"):
        record = RequestRecord(
            method=request.method,
            path=request.path,
            headers=pick_headers(request.headers),
            api_key_id=api_key_scope(request.headers),
        )
        request[RECORD] = record
        state.stats.begin(record)
    try:
        if record is not None:
            if record.api_key_id is None:
                raise ApiError("authentication_error", "x-api-key header is required")
            request[SCOPE] = record.api_key_id
        response = await handler(request)
    except ApiError as error:
        response = _error_response(request, error.status, error.error_type, error.message)
        response.headers.update(error.headers)
    except web.HTTPException as error:
        if error.status < 400:
            raise
        error_type = _HTTP_ERROR_TYPES.get(error.status, "invalid_request_error")
        response = _error_response(request, error.status, error_type, error.reason)
    except Exception:
        # A bug in the emulator must still look like an API failure to the client.
        logger.exception("unexpected error handling %s %s", request.method, request.path)
        response = _error_response(request, 500, "api_error", "Internal server error")
    if record is not None:
        state.stats.finish(record, None if request.get(NO_RESPONSE) else response.status)
    return response


async def add_rate_limit_headers(request: web.Request, response: web.StreamResponse) -> None:
    """Signal handler: a Messages response, refused or not, tells the caller's rate-limit state.

    Sent once the model is known (a body too broken to name one gets none), as they stand when
    the headers go out: after this request's own charge, before the next one's.
    """
    record = request.get(RECORD)
    scope = request.get(SCOPE)
    if record is None or scope is None or record.path != "/v1/messages" or not record.model:
        return
    response.headers.update(state_of(request).rate_limits.headers(scope, record.model))


async def add_request_id(request: web.Request, response: web.StreamResponse) -> None:
    """Signal handler: every response, streamed or not, carries ``request-id``."""
    request_id = request.get(REQUEST_ID)
    if request_id is not None:
        response.headers["request-id"] = request_id
