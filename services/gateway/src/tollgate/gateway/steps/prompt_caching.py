"""Prompt caching: ask the orchestrator to mark Anthropic prompt-cache breakpoints, so repeated
prefixes are billed as cache reads. Its saving is what the call would have cost with no cache
read or write, less what it cost."""

from __future__ import annotations

from tollgate.common.flag_definitions import PromptCachingParameters
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.steps.base import Answer, Step
from tollgate.v1 import common_pb2, orchestrator_pb2

_TTLS = {"5m": common_pb2.CACHE_TTL_5M, "1h": common_pb2.CACHE_TTL_1H}


class PromptCachingStep(Step):
    key = "prompt_caching"

    def __init__(self, decision: FlagDecision[PromptCachingParameters]) -> None:
        self._decision = decision

    def shape(self, spec: orchestrator_pb2.GenerationSpec) -> None:
        """Set the generation's prompt-caching fields."""
        spec.prompt_caching = self._decision.enforce
        spec.prompt_cache_ttl = _TTLS[self._decision.parameters.ttl]

    def savings(self, answer: Answer) -> int:
        if not self._decision.active or answer.from_cache:
            return 0
        usage = answer.response.usage
        report = self.start_report(self._decision)
        report.applied = self._decision.enforce and answer.cache_breakpoints > 0
        report.tokens_saved = usage.cache_read_input_tokens
        # A cache write costs more than plain input: that request saved nothing (never a
        # negative saving, which the ledger refuses along with the commit carrying it).
        report.micros_saved = (
            max(0, answer.uncached_micros - answer.cost.total_micros) if report.applied else 0
        )
        report.detail = (
            f"{answer.cache_breakpoints} breakpoints, "
            f"{usage.cache_read_input_tokens} tokens read, "
            f"{usage.cache_creation_input_tokens} written"
        )
        return 0
