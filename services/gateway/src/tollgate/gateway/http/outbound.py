"""What an HTTP caller gets back: the account as response headers, and a streamed answer as
Anthropic's server-sent events, byte for byte the shape the Messages API sends.

A stream's headers leave before the account exists, so a stream carries the account as one
extra event, `tollgate_account`, just before `message_stop`. The official SDKs skip event types
they do not know (tests/e2e/test_e2e_http_sdk.py checks that they do)."""

from __future__ import annotations

import json
from typing import Any

from google.protobuf import json_format

from tollgate.common.anthropic_format import STOP_REASON_NAMES, block_to_json, usage_to_json
from tollgate.v1 import common_pb2

ACCOUNT_EVENT = "tollgate_account"

_CACHE_STATUS = {
    common_pb2.CACHE_STATUS_MISS: "miss",
    common_pb2.CACHE_STATUS_EXACT: "exact",
    common_pb2.CACHE_STATUS_SEMANTIC: "semantic",
    common_pb2.CACHE_STATUS_BYPASS: "bypass",
}


def account_headers(account: common_pb2.Account) -> dict[str, str]:
    headers = {
        "request-id": account.request_id,
        "x-tollgate-request-id": account.request_id,
        "x-tollgate-trace-id": account.trace_id,
        "x-tollgate-cache": _CACHE_STATUS.get(account.cache_status, "miss"),
        "x-tollgate-cost-micros": str(account.cost.total_micros),
        "x-tollgate-baseline-micros": str(account.baseline_cost_micros),
        "x-tollgate-saved-micros": str(account.saved_micros),
        "x-tollgate-model": account.model,
        "x-tollgate-optimizations": ",".join(
            report.optimization for report in account.optimizations if report.applied
        ),
    }
    if account.cache_status == common_pb2.CACHE_STATUS_SEMANTIC:
        headers["x-tollgate-similarity"] = f"{account.similarity:.4f}"
    if account.HasField("budget"):
        headers["x-tollgate-budget-scope"] = account.budget.scope
        headers["x-tollgate-budget-remaining-micros"] = str(account.budget.remaining_micros)
    return headers


def account_json(account: common_pb2.Account) -> dict[str, Any]:
    return json_format.MessageToDict(account, preserving_proto_field_name=True)


def sse(kind: str, data: dict[str, Any]) -> bytes:
    # Compact JSON, one `data:` line, a blank line: what the Messages API sends.
    return f"event: {kind}\ndata: {json.dumps(data, separators=(',', ':'))}\n\n".encode()


def account_event(account: common_pb2.Account) -> bytes:
    return sse(ACCOUNT_EVENT, {"type": ACCOUNT_EVENT, "account": account_json(account)})


def event_bytes(event: common_pb2.StreamEvent) -> bytes:
    kind = event.WhichOneof("event")
    if kind == "message_start":
        start = event.message_start
        message: dict[str, Any] = {
            "id": start.id,
            "type": "message",
            "role": "assistant",
            "model": start.model,
            "content": [],
            "stop_reason": None,
            "stop_sequence": None,
            "usage": usage_to_json(start.usage),
        }
        return sse(kind, {"type": kind, "message": message})
    if kind == "content_block_start":
        block = _empty_block(event.content_block_start.content_block)
        return sse(
            kind, {"type": kind, "index": event.content_block_start.index, "content_block": block}
        )
    if kind == "content_block_delta":
        delta = event.content_block_delta
        if delta.WhichOneof("delta") == "partial_json":
            body = {"type": "input_json_delta", "partial_json": delta.partial_json}
        else:
            body = {"type": "text_delta", "text": delta.text}
        return sse(kind, {"type": kind, "index": delta.index, "delta": body})
    if kind == "content_block_stop":
        return sse(kind, {"type": kind, "index": event.content_block_stop.index})
    if kind == "message_delta":
        ending = event.message_delta
        return sse(
            kind,
            {
                "type": kind,
                "delta": {
                    "stop_reason": STOP_REASON_NAMES.get(ending.stop_reason),
                    "stop_sequence": ending.stop_sequence or None,
                },
                "usage": usage_to_json(ending.usage),
            },
        )
    return sse("message_stop", {"type": "message_stop"})


def _empty_block(block: common_pb2.ContentBlock) -> dict[str, Any]:
    # A block opens empty; its text or input arrives in deltas.
    out = block_to_json(block)
    if out["type"] == "text":
        out["text"] = ""
    elif out["type"] == "tool_use":
        out["input"] = {}
    return out
