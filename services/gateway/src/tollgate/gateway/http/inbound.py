"""What an HTTP caller sends, as the gateway's own types: the key from `x-api-key` or
`Authorization: Bearer`, the Messages API body as a `Completion`, and Tollgate's extras from
`x-tollgate-*` headers (Anthropic's SDKs pass extra headers through unchanged)."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from tollgate.common.anthropic_format import request_from_params
from tollgate.common.errors import invalid_argument
from tollgate.common.tasks import TASK_NAMES
from tollgate.v1 import common_pb2, gateway_pb2

TASK_HEADER = "x-tollgate-task"
CONTACT_HEADER = "x-tollgate-contact"
CONVERSATION_HEADER = "x-tollgate-conversation"
TAGS_HEADER = "x-tollgate-tags"
REQUEST_ID_HEADER = "x-tollgate-request-id"
CACHE_MODE_HEADER = "x-tollgate-cache-mode"
CACHE_TTL_HEADER = "x-tollgate-cache-ttl"
CACHE_SAMPLED_HEADER = "x-tollgate-cache-sampled"
AGENT_HEADER = "x-tollgate-agent"
SESSION_HEADER = "x-tollgate-session"

_CACHE_MODES = {
    "default": gateway_pb2.CACHE_MODE_UNSPECIFIED,
    "bypass": gateway_pb2.CACHE_MODE_BYPASS,
    "refresh": gateway_pb2.CACHE_MODE_REFRESH,
}
_BOOLEANS = {"true": True, "1": True, "false": False, "0": False}

# Task names ("lead_analysis") → enum names ("TASK_TYPE_LEAD_ANALYSIS"), which protos accept.
_TASKS_BY_NAME = {name: common_pb2.TaskType.Name(value) for value, name in TASK_NAMES.items()}


def authorization(headers: Mapping[str, str]) -> str | None:
    """The key as the key ring reads it (`Bearer <key>`); `x-api-key` is what the SDKs send."""
    api_key = headers.get("x-api-key")
    if api_key:
        return f"Bearer {api_key}"
    return headers.get("authorization")


def parse_body(raw: bytes) -> dict[str, Any]:
    try:
        body = json.loads(raw)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise invalid_argument(f"The request body is not valid JSON: {exc}.") from None
    if not isinstance(body, dict):
        raise invalid_argument("The request body must be a JSON object.")
    return body


def completion(body: Mapping[str, Any], headers: Mapping[str, str]) -> gateway_pb2.Completion:
    """A Completion from a Messages API body and the caller's `x-tollgate-*` headers."""
    for name, kind in (("model", str), ("max_tokens", int), ("messages", list)):
        if name not in body:
            raise invalid_argument(f"{name}: Field required.", name)
        if not isinstance(body[name], kind) or isinstance(body[name], bool):
            raise invalid_argument(f"{name}: must be a {kind.__name__}.", name)
    try:
        request = request_from_params(body)
    except (ValueError, TypeError, KeyError, AttributeError) as exc:
        raise invalid_argument(f"The request does not follow the Messages API: {exc}.") from None
    return gateway_pb2.Completion(
        request=request,
        task=_task(headers.get(TASK_HEADER, "")),
        contact_id=headers.get(CONTACT_HEADER, ""),
        conversation_id=headers.get(CONVERSATION_HEADER, ""),
        request_id=headers.get(REQUEST_ID_HEADER, ""),
        tags=[tag.strip() for tag in headers.get(TAGS_HEADER, "").split(",") if tag.strip()],
        cache=cache_preference(headers),
        agent_id=headers.get(AGENT_HEADER, "").strip(),
        session_id=headers.get(SESSION_HEADER, "").strip(),
    )


def cache_preference(headers: Mapping[str, str]) -> gateway_pb2.CachePreference:
    """`x-tollgate-cache-mode` (default, bypass, refresh), `x-tollgate-cache-ttl` (seconds) and
    `x-tollgate-cache-sampled` (true: cache the answer although it was sampled)."""
    preference = gateway_pb2.CachePreference()
    mode = headers.get(CACHE_MODE_HEADER, "default").strip().lower()
    if mode not in _CACHE_MODES:
        raise invalid_argument(
            f"{CACHE_MODE_HEADER} must be one of {', '.join(_CACHE_MODES)}; got {mode!r}.",
            CACHE_MODE_HEADER,
        )
    preference.mode = _CACHE_MODES[mode]
    ttl = headers.get(CACHE_TTL_HEADER, "").strip()
    if ttl:
        if not ttl.isdigit() or int(ttl) < 1:
            raise invalid_argument(
                f"{CACHE_TTL_HEADER} must be a whole number of seconds above 0; got {ttl!r}.",
                CACHE_TTL_HEADER,
            )
        preference.ttl.seconds = int(ttl)
    sampled = headers.get(CACHE_SAMPLED_HEADER, "false").strip().lower()
    if sampled not in _BOOLEANS:
        raise invalid_argument(
            f"{CACHE_SAMPLED_HEADER} must be true or false; got {sampled!r}.", CACHE_SAMPLED_HEADER
        )
    preference.cache_sampled = _BOOLEANS[sampled]
    return preference


def _task(name: str) -> str:
    if not name:
        return "TASK_TYPE_UNSPECIFIED"
    try:
        return _TASKS_BY_NAME[name.strip().lower()]
    except KeyError:
        known = ", ".join(sorted(_TASKS_BY_NAME))
        raise invalid_argument(
            f"Unknown task {name!r} in {TASK_HEADER}; known tasks: {known}.", TASK_HEADER
        ) from None
