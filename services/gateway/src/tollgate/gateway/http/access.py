"""One access-log line and the request metrics for every call to the HTTP door.

The line carries the method, the route *template* (`/v1/messages/batches/{batch_id}`, never
the path with its ids, nor the query), the status, the duration, and the fields the handler
annotated (tenant, key id, request id) — never a header, body, key, prompt or answer. Metrics
follow the gRPC door's (`tollgate_rpc_*`): `tollgate_http_requests` by route, method and status,
and `tollgate_http_request_duration_seconds` by route and method. Label dicts are built once per
(route, method, status) and reused, so a request allocates little more than its log fields.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Awaitable, Callable
from functools import cache
from typing import Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from tollgate.common.logs import request_fields
from tollgate.gateway.metrics import instruments

log = logging.getLogger("tollgate.access")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]

# A path no route matched: one label for all of them, so scanners cannot grow the metrics.
UNMATCHED = "unmatched"
# The caller went away before the answer was written (nginx's convention).
CLIENT_CLOSED = 499


@cache
def _duration_labels(route: str, method: str) -> dict[str, str]:
    return {"route": route, "method": method}


@cache
def _request_labels(route: str, method: str, status: int) -> dict[str, str]:
    return {"route": route, "method": method, "status": str(status)}


def route_of(request: web.Request) -> str:
    """The matched route's template, or UNMATCHED."""
    info = request.match_info
    route = info.route if info.http_exception is None else None
    resource = route.resource if route is not None else None
    return resource.canonical if resource is not None else UNMATCHED


def access_log() -> Middleware:
    """The outermost middleware: it sees the status the error middleware chose."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        start = time.perf_counter()
        # What the handler annotates (tenant, key id, request id) lands here, and in every log
        # line of the request, background work included.
        fields: dict[str, Any] = {}
        token = request_fields.set(fields)
        response: web.StreamResponse | None = None
        try:
            response = await handler(request)
            return response
        finally:
            # No response: the caller went away and the handler was cancelled (every failure
            # of the handler became an answer in the error middleware).
            status = response.status if response is not None else CLIENT_CLOSED
            request_fields.reset(token)
            _record(request, status, time.perf_counter() - start, fields, response)

    return middleware


def _record(
    request: web.Request,
    status: int,
    duration: float,
    fields: dict[str, Any],
    response: web.StreamResponse | None,
) -> None:
    route, method = route_of(request), request.method
    gateway = instruments()
    gateway.http_requests.add(1, _request_labels(route, method, status))
    gateway.http_duration.record(duration, _duration_labels(route, method))
    if not log.isEnabledFor(logging.INFO):
        return
    # A new dict: background work of the request still logs with `fields`.
    entry = {
        **fields,
        "method": method,
        "route": route,
        "status": status,
        "duration_ms": round(duration * 1000, 3),
    }
    if "request_id" not in entry and response is not None and "request-id" in response.headers:
        # Refused before the handler annotated one; a caller's unchecked header is not logged.
        entry["request_id"] = response.headers["request-id"]
    # A ready record skips `Logger.findCaller`'s stack walk, as the gRPC access log does.
    log.handle(log.makeRecord(log.name, logging.INFO, "", 0, "http", (), None, extra=entry))
