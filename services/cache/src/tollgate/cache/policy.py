"""What may be cached, and for how long.

A cached answer is only right if asking again would give the same answer: by default that means
temperature 0. Tool-use turns and answers cut off by max_tokens are kept out unless configured.
Each refusal carries a sentence saying why, for the caller's account and the logs.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass

from tollgate.cache.settings import WILDCARD, Settings
from tollgate.v1 import common_pb2


@dataclass(frozen=True)
class Verdict:
    cacheable: bool
    reason: str = ""


CACHEABLE = Verdict(True)

# Complete answers that asking again would reproduce. Refusals are left out: they may come from
# a safety system that changes, and a cache must not pin one. Pause turns are unfinished.
_COMPLETE_STOP_REASONS = frozenset(
    {common_pb2.STOP_REASON_END_TURN, common_pb2.STOP_REASON_STOP_SEQUENCE}
)


class CachePolicy:
    def __init__(self, settings: Settings) -> None:
        self._settings = settings

    def ttl_seconds(self, tenant_id: str, task: str) -> int:
        """The TTL of `tenant_id`'s entries for `task`; 0 means caching is off there."""
        overrides = self._settings.ttl_overrides
        for tenant_key, task_key in (
            (tenant_id, task),
            (tenant_id, WILDCARD),
            (WILDCARD, task),
            (WILDCARD, WILDCARD),
        ):
            seconds = overrides.get(tenant_key, {}).get(task_key)
            if seconds is not None:
                return seconds
        return self._settings.default_ttl_seconds

    def request_verdict(
        self,
        request: common_pb2.ClaudeRequest,
        tenant_id: str,
        task: str,
        cache_sampled: bool = False,
    ) -> Verdict:
        """`cache_sampled`: the caller accepts a sampled answer being served again, so the
        temperature does not keep the request out."""
        settings = self._settings
        if self.ttl_seconds(tenant_id, task) == 0:
            return Verdict(False, f"caching is turned off for this tenant's {task} requests")
        if not cache_sampled:
            sampled = self._sampled(request)
            if sampled is not None:
                return sampled
        if not settings.tool_use_cacheable and uses_tools(request):
            return Verdict(False, "tool-use turns are not cached (tool_use_cacheable is off)")
        return CACHEABLE

    def _sampled(self, request: common_pb2.ClaudeRequest) -> Verdict | None:
        """A refusal when the request's answer would be sampled (it would vary), else None."""
        settings = self._settings
        if request.HasField("temperature"):
            if request.temperature > settings.max_cacheable_temperature:
                return Verdict(
                    False,
                    f"temperature {request.temperature:g} is above the cacheable maximum "
                    f"{settings.max_cacheable_temperature:g}; the answer would vary",
                )
        elif not settings.unset_temperature_cacheable:
            return Verdict(
                False,
                "temperature is unset (the default samples); only set temperatures are cached",
            )
        return None

    def response_verdict(self, response: common_pb2.ClaudeResponse) -> Verdict:
        settings = self._settings
        if not response.content:
            return Verdict(False, "the answer has no content")
        reason = response.stop_reason
        if reason == common_pb2.STOP_REASON_MAX_TOKENS:
            if settings.max_tokens_responses_cacheable:
                return CACHEABLE
            return Verdict(False, "the answer was cut off by max_tokens")
        if reason == common_pb2.STOP_REASON_TOOL_USE or _has_tool_use(response.content):
            if settings.tool_use_cacheable:
                return CACHEABLE
            return Verdict(False, "tool-use answers are not cached (tool_use_cacheable is off)")
        if reason not in _COMPLETE_STOP_REASONS:
            return Verdict(
                False, f"answers that stop with {_stop_reason_name(reason)} are not cached"
            )
        return CACHEABLE


def uses_tools(request: common_pb2.ClaudeRequest) -> bool:
    """True for a tool-use turn: tools are offered, or the conversation carries tool blocks."""
    if request.tools:
        return True
    return any(_has_tool_blocks(message.content) for message in request.messages)


def _has_tool_blocks(blocks: Iterable[common_pb2.ContentBlock]) -> bool:
    return any(block.WhichOneof("block") in ("tool_use", "tool_result") for block in blocks)


def _has_tool_use(blocks: Iterable[common_pb2.ContentBlock]) -> bool:
    return any(block.WhichOneof("block") == "tool_use" for block in blocks)


def _stop_reason_name(reason: int) -> str:
    try:
        return common_pb2.StopReason.Name(reason)
    except ValueError:
        return f"stop reason {reason}"
