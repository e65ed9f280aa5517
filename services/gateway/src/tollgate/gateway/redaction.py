"""Opt-in logging of prompts and answers, with e-mail addresses and phone numbers redacted.

CRM conversations are full of a lead's contact details; when an operator turns prompt logging on
to debug, those details still must not reach the log store.
"""

from __future__ import annotations

import logging
import re
from collections.abc import Iterable

from tollgate.v1 import common_pb2

log = logging.getLogger("tollgate.gateway.prompts")

EMAIL_MARK = "[email]"
PHONE_MARK = "[phone]"

_EMAIL = re.compile(r"[A-Za-z0-9._%+\-]+@[A-Za-z0-9\-]+(?:\.[A-Za-z0-9\-]+)+")
# International or national numbers with optional separators: +1 (415) 555-0100, 020 7946 0958,
# 415.555.0100. At least 7 digits, so that prices, years and dates are left alone.
_PHONE = re.compile(r"(?<![\w(])(?:\+|00)?\(?\d(?:[\s().\-]{0,2}\d){6,14}(?![\w])")
_DATE_LIKE = re.compile(r"^\d{4}-\d{2}-\d{2}$")


def _phone(match: re.Match[str]) -> str:
    text = match.group(0)
    return text if _DATE_LIKE.match(text.strip()) else PHONE_MARK


def redact(text: str) -> str:
    """`text` with e-mail addresses and phone numbers replaced by markers."""
    return _PHONE.sub(_phone, _EMAIL.sub(EMAIL_MARK, text))


def _block_text(blocks: Iterable[common_pb2.ContentBlock]) -> str:
    parts = []
    for block in blocks:
        kind = block.WhichOneof("block")
        if kind == "text":
            parts.append(block.text.text)
        elif kind == "tool_result":
            parts.append(_block_text(block.tool_result.content))
        elif kind == "tool_use":
            parts.append(f"[tool_use {block.tool_use.name}]")
    return "\n".join(parts)


def prompt_text(request: common_pb2.ClaudeRequest) -> str:
    lines = [f"system: {_block_text(request.system)}"] if request.system else []
    for message in request.messages:
        role = common_pb2.Role.Name(message.role).removeprefix("ROLE_").lower()
        lines.append(f"{role}: {_block_text(message.content)}")
    return "\n".join(lines)


def log_exchange(
    request: common_pb2.ClaudeRequest, response: common_pb2.ClaudeResponse | None
) -> None:
    """One log line with the redacted prompt and, when there is one, the redacted answer."""
    fields = {"prompt": redact(prompt_text(request))}
    if response is not None:
        fields["answer"] = redact(_block_text(response.content))
    log.info("exchange", extra=fields)
