"""``GET /v1/models``: the emulator's model list, in the real list shape."""

from __future__ import annotations

from typing import Any

from aiohttp import web

from tollgate.emulator.errors import ApiError
from tollgate.emulator.web_support import json_response, state_of

# A fixed timestamp: the list must be stable across runs.
_CREATED_AT = "2025-01-01T00:00:00Z"


def _model(model_id: str) -> dict[str, Any]:
    words = model_id.removesuffix("-latest").split("-")
    readable = " ".join(w.capitalize() for w in words if not (w.isdigit() and len(w) == 8))
    return {"type": "model", "id": model_id, "display_name": readable, "created_at": _CREATED_AT}


async def list_models(request: web.Request) -> web.StreamResponse:
    models = [_model(model_id) for model_id in state_of(request).config.models]
    return json_response(
        {
            "data": models,
            "has_more": False,
            "first_id": models[0]["id"] if models else None,
            "last_id": models[-1]["id"] if models else None,
        }
    )


async def retrieve_model(request: web.Request) -> web.StreamResponse:
    model_id = request.match_info["model_id"]
    if not state_of(request).config.knows_model(model_id):
        raise ApiError("not_found_error", f"model: {model_id}")
    return json_response(_model(model_id))


def add_routes(app: web.Application) -> None:
    app.router.add_get("/v1/models", list_models)
    app.router.add_get("/v1/models/{model_id}", retrieve_model)
