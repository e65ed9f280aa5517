"""The aiohttp application: every route, the middleware and lifecycle hooks."""

from __future__ import annotations

from aiohttp import web

from tollgate.emulator import batches_api, control_api, messages_api, models_api
from tollgate.emulator.state import EmulatorState
from tollgate.emulator.web_support import (
    STATE_KEY,
    add_rate_limit_headers,
    add_request_id,
    api_middleware,
)

# The real API accepts request bodies up to 32 MB.
MAX_BODY_BYTES = 32 * 1024 * 1024


async def _stop_batches(app: web.Application) -> None:
    await app[STATE_KEY].batches.close()


def build_app(state: EmulatorState) -> web.Application:
    app = web.Application(middlewares=[api_middleware], client_max_size=MAX_BODY_BYTES)
    app[STATE_KEY] = state
    app.router.add_post("/v1/messages", messages_api.create_message)
    app.router.add_post("/v1/messages/count_tokens", messages_api.count_tokens)
    batches_api.add_routes(app)
    models_api.add_routes(app)
    control_api.add_routes(app)
    app.on_response_prepare.append(add_request_id)
    app.on_response_prepare.append(add_rate_limit_headers)
    app.on_cleanup.append(_stop_batches)
    return app
