"""``/_emulator/...``: steering a running emulator from tests, demos and fault scripts.

* ``GET  /_emulator/stats?limit=50&bodies=1`` -- counters plus the latest request
  records (bodies only when asked), the config, and the prompt-cache size;
* ``GET  /_emulator/config`` -- the current config;
* ``POST /_emulator/config`` -- a JSON patch (nested objects merge, lists
  replace), e.g. ``{"latency": {"ttft_ms": 400}, "fault_script": ["overloaded"]}``;
  invalid patches are rejected whole with a 400; ``{"scripted_answers": {"listing price":
  "It is $450,000."}}`` makes every question containing the phrase get that answer text;
  ``{"rate_limits": {"requests_per_minute": 60}}`` sets the organisation's limits (``null``:
  no such limit);
* ``POST /_emulator/reset`` -- forget stats, cached prompts and batches;
  ``{"config": true}`` also restores the config the server started with;
* ``POST /_emulator/clock/advance`` -- ``{"seconds": 301}`` moves the TTL clock.
"""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tollgate.emulator.errors import invalid_request
from tollgate.emulator.web_support import json_response, read_json, state_of


async def _object_body(request: web.Request) -> dict[str, Any]:
    body = await read_json(request)
    if body is None:
        return {}
    if not isinstance(body, dict):
        raise invalid_request("The request body must be a JSON object")
    return body


async def get_stats(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        limit = int(request.query.get("limit", "50"))
    except ValueError:
        raise invalid_request("limit: Input should be a valid integer") from None
    bodies = request.query.get("bodies", "").lower() in ("1", "true", "yes")
    snapshot = state.stats.snapshot(limit=limit, include_bodies=bodies)
    snapshot["prompt_cache_entries"] = len(state.cache)
    snapshot["config"] = state.config.to_dict()
    return json_response(snapshot)


async def get_config(request: web.Request) -> web.StreamResponse:
    return json_response(state_of(request).config.to_dict())


async def patch_config(request: web.Request) -> web.StreamResponse:
    state = state_of(request)
    try:
        state.config.apply_patch(await _object_body(request))
    except ValueError as error:
        raise invalid_request(str(error)) from None
    return json_response(state.config.to_dict())


async def reset(request: web.Request) -> web.StreamResponse:
    body = await _object_body(request)
    state_of(request).reset(restore_config=body.get("config") is True)
    return json_response({"ok": True})


async def advance_clock(request: web.Request) -> web.StreamResponse:
    seconds = (await _object_body(request)).get("seconds")
    if isinstance(seconds, bool) or not isinstance(seconds, int | float) or seconds < 0:
        raise invalid_request("seconds: expected a non-negative number")
    clock = state_of(request).clock
    clock.advance(float(seconds))
    return json_response({"now": clock.now()})


def add_routes(app: web.Application) -> None:
    app.router.add_get("/_emulator/stats", get_stats)
    app.router.add_get("/_emulator/config", get_config)
    app.router.add_post("/_emulator/config", patch_config)
    app.router.add_post("/_emulator/reset", reset)
    app.router.add_post("/_emulator/clock/advance", advance_clock)
