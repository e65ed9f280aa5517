"""The HTTP front door: aiohttp's server in the gateway's own event loop (no thread, no extra
hop), handing each request to the gateway's servicer and pipeline exactly as gRPC `Complete`
does: same keys, validation, rate limits, flags, caches, optimizer, budgets and account."""

from __future__ import annotations

import contextlib
import logging
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import TYPE_CHECKING, Any

from aiohttp import web
from aiohttp.typedefs import Middleware

from tollgate.common.anthropic_format import response_to_json
from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id
from tollgate.common.pricing import PriceTable
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway.batches import BatchCalls
from tollgate.gateway.http import errors, inbound, outbound
from tollgate.gateway.http.access import access_log
from tollgate.gateway.http.batch_routes import BatchRoutes
from tollgate.gateway.http.classify_route import ClassifyRoute
from tollgate.gateway.http.key_routes import KeyRoutes
from tollgate.gateway.http.tls import server_ssl_context
from tollgate.gateway.settings import Settings
from tollgate.v1 import common_pb2, gateway_pb2

if TYPE_CHECKING:
    from tollgate.gateway.service import GatewayServicer

log = logging.getLogger("tollgate.gateway.http")

Handler = Callable[[web.Request], Awaitable[web.StreamResponse]]


def error_response(error: errors.HttpError) -> web.Response:
    return web.Response(
        status=error.status,
        body=error.body(),
        content_type="application/json",
        headers=error.headers,
    )


def anthropic_errors(max_request_bytes: int) -> Middleware:
    """Every refusal in Anthropic's error shape; an unexpected failure is logged with a reference
    and reaches the caller as a 500 with that reference, never a stack trace."""

    @web.middleware
    async def middleware(request: web.Request, handler: Handler) -> web.StreamResponse:
        try:
            return await handler(request)
        except ServiceError as exc:
            return error_response(errors.from_service_error(exc))
        except web.HTTPRequestEntityTooLarge:
            return error_response(errors.request_too_large(max_request_bytes))
        except web.HTTPException as exc:
            return error_response(errors.from_http_exception(exc, request.method, request.path))
        except Exception:
            reference = new_request_id().replace("req_", "err_")
            log.exception("unhandled error", extra={"error_reference": reference})
            return error_response(errors.internal(reference))

    return middleware


class HttpDoor:
    def __init__(
        self,
        settings: Settings,
        servicer: GatewayServicer,
        prices: PriceTable,
        batches: BatchCalls,
    ) -> None:
        self._settings = settings
        self._servicer = servicer
        self._prices = prices
        self._batch_routes = BatchRoutes(servicer, batches)
        self._runner: web.AppRunner | None = None
        self.port = 0
        self.scheme = "http"

    def app(self) -> web.Application:
        app = web.Application(
            middlewares=[access_log(), anthropic_errors(self._settings.max_request_bytes)],
            client_max_size=self._settings.max_request_bytes,
        )
        app.router.add_post("/v1/messages", self.messages)
        app.router.add_post("/v1/messages/count_tokens", self.count_tokens)
        app.router.add_get("/v1/models", self.models)
        app.router.add_get("/v1/models/{model_id}", self.model)
        self._batch_routes.add_to(app)
        ClassifyRoute(self._servicer).add_to(app)
        KeyRoutes(self._servicer).add_to(app)
        return app

    async def start(self) -> None:
        self._runner = web.AppRunner(self.app(), access_log=None, handle_signals=False)
        await self._runner.setup()
        ssl_context = server_ssl_context(self._settings)
        self.scheme = "https" if ssl_context else "http"
        site = web.TCPSite(
            self._runner, self._settings.host, self._settings.http_port, ssl_context=ssl_context
        )
        await site.start()
        self.port = self._runner.addresses[0][1]
        log.info("HTTP front door listening", extra={"port": self.port})

    async def stop(self) -> None:
        if self._runner is not None:
            await self._runner.cleanup()
            self._runner = None

    @property
    def base_url(self) -> str:
        return f"{self.scheme}://127.0.0.1:{self.port}"

    async def _completion(
        self, request: web.Request
    ) -> tuple[common_pb2.RequestContext, gateway_pb2.Completion, dict[str, Any]]:
        # The key is checked before the body is read: an unknown caller costs no parsing.
        key = self._servicer.authenticate(inbound.authorization(request.headers))
        body = inbound.parse_body(await request.read())
        completion = inbound.completion(body, request.headers)
        context = await self._servicer.accept(key, completion)
        return context, completion, body

    async def messages(self, request: web.Request) -> web.StreamResponse:
        context, completion, body = await self._completion(request)
        timeout = self._settings.orchestrator_timeout_seconds
        if body.get("stream") is True:
            return await self._stream(request, context, completion, timeout)
        reply = await self._servicer.pipeline.complete(context, completion, timeout)
        return web.json_response(
            response_to_json(reply.response), headers=outbound.account_headers(reply.account)
        )

    async def _stream(
        self,
        request: web.Request,
        context: common_pb2.RequestContext,
        completion: gateway_pb2.Completion,
        timeout: float,
    ) -> web.StreamResponse:
        items = self._servicer.pipeline.stream(context, completion, timeout)
        async with contextlib.aclosing(items):
            # A refusal before the first event (budget, rate, Claude down) is still an HTTP
            # status the SDKs raise on; after it, only an `error` event can say so.
            first = await anext(items)
            response = web.StreamResponse(
                headers={
                    "content-type": "text/event-stream; charset=utf-8",
                    "cache-control": "no-cache",
                    "request-id": context.request_id,
                    "x-tollgate-request-id": context.request_id,
                }
            )
            await response.prepare(request)
            try:
                await _write_events(response, _chain(first, items))
            except ServiceError as exc:
                await response.write(
                    outbound.sse("error", errors.from_service_error(exc).payload())
                )
            await response.write_eof()
            return response

    async def count_tokens(self, request: web.Request) -> web.Response:
        self._servicer.authenticate(inbound.authorization(request.headers))
        body = inbound.parse_body(await request.read())
        completion = inbound.completion({"max_tokens": 1, **body}, request.headers)
        # Tollgate's own estimate (the one budget holds use), not a call to Claude: counting is
        # free and needs no upstream round trip. The header says so.
        return web.json_response(
            {"input_tokens": estimate_request(completion.request)},
            headers={"x-tollgate-token-count": "estimate"},
        )

    def _model_json(self, model: str) -> dict[str, str]:
        return {
            "type": "model",
            "id": model,
            "display_name": model,
            "created_at": f"{self._prices.as_of}T00:00:00Z",
        }

    async def models(self, request: web.Request) -> web.Response:
        self._servicer.authenticate(inbound.authorization(request.headers))
        data = [self._model_json(model) for model in self._prices.models]
        return web.json_response(
            {
                "data": data,
                "has_more": False,
                "first_id": data[0]["id"] if data else None,
                "last_id": data[-1]["id"] if data else None,
            }
        )

    async def model(self, request: web.Request) -> web.Response:
        self._servicer.authenticate(inbound.authorization(request.headers))
        model = request.match_info["model_id"]
        if not self._prices.knows(model):
            return error_response(errors.not_found_model(model))
        return web.json_response(self._model_json(model))


async def _chain(
    first: gateway_pb2.StreamCompleteResponse,
    rest: AsyncIterator[gateway_pb2.StreamCompleteResponse],
) -> AsyncIterator[gateway_pb2.StreamCompleteResponse]:
    yield first
    async for item in rest:
        yield item


async def _write_events(
    response: web.StreamResponse, items: AsyncIterator[gateway_pb2.StreamCompleteResponse]
) -> None:
    """Claude's events as they come; `message_stop` waits for the account so that the account
    event sits inside the message, where every SDK still reads the stream."""
    stop: bytes | None = None
    async for item in items:
        if item.HasField("account"):
            await response.write(outbound.account_event(item.account))
        elif item.event.WhichOneof("event") == "message_stop":
            stop = outbound.event_bytes(item.event)
            continue
        else:
            await response.write(outbound.event_bytes(item.event))
    await response.write(stop or outbound.sse("message_stop", {"type": "message_stop"}))
