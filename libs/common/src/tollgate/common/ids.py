"""Identifiers for requests and traces."""

from __future__ import annotations

import secrets


def new_request_id() -> str:
    return "req_" + secrets.token_hex(12)


def new_trace_id() -> str:
    """A W3C trace id (32 hex characters), used when no span is active."""
    return secrets.token_hex(16)
