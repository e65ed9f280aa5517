"""Turns a validated request into a complete Messages API response body.

Shared by the synchronous endpoint, the stream (which replays the same message
as events) and batch processing, so all three bill and answer identically.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from tollgate.emulator.answers import Answer, compose_answer, last_user_text
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.ids import random_id
from tollgate.emulator.prompt_cache import CacheUsage, PromptCache
from tollgate.emulator.validation import MessageRequest


def new_message_id() -> str:
    return random_id("msg_01")


def usage_body(usage: CacheUsage, output_tokens: int, service_tier: str) -> dict[str, Any]:
    return {
        "input_tokens": usage.input_tokens,
        "cache_creation_input_tokens": usage.cache_creation_input_tokens,
        "cache_read_input_tokens": usage.cache_read_input_tokens,
        "cache_creation": {
            "ephemeral_5m_input_tokens": usage.cache_creation_5m_tokens,
            "ephemeral_1h_input_tokens": usage.cache_creation_1h_tokens,
        },
        "output_tokens": output_tokens,
        "service_tier": service_tier,
    }


@dataclass(frozen=True)
class Completion:
    message: dict[str, Any]
    answer: Answer
    usage: CacheUsage


class Engine:
    def __init__(self, config: EmulatorConfig, cache: PromptCache) -> None:
        self._config = config
        self._cache = cache

    def complete(
        self, request: MessageRequest, *, scope: str, service_tier: str = "standard"
    ) -> Completion:
        """Answer a request, reading and writing the prompt cache on the way."""
        usage = self._cache.apply(
            scope=scope,
            model=request.model,
            segments=request.segments,
            min_tokens=self._config.min_cacheable_for(request.model),
        )
        scripted = self._config.scripted_answer(last_user_text(request.body))
        answer = compose_answer(request, scripted, self._config.scripted_answer)
        message = {
            "id": new_message_id(),
            "type": "message",
            "role": "assistant",
            "model": request.model,
            "content": [dict(block) for block in answer.content],
            "stop_reason": answer.stop_reason,
            "stop_sequence": answer.stop_sequence,
            "usage": usage_body(usage, answer.output_tokens, service_tier),
        }
        return Completion(message=message, answer=answer, usage=usage)
