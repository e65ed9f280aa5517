"""The optimizer's own metrics (exported to Prometheus with the rest of the process's)."""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics


class ConversationTally:
    """Conversations optimized, by task and whether anything was removed.

    Every request is counted, so a plain counter's `add` (about 5 µs in the SDK, a sixth of a
    short conversation's optimization) is replaced by a dict increment on the event loop, and
    the metrics reader observes the totals when it collects.
    """

    def __init__(self) -> None:
        self._counts: dict[tuple[str, bool], int] = {}

    def add(self, task: str, changed: bool) -> None:
        key = (task, changed)
        self._counts[key] = self._counts.get(key, 0) + 1

    def observe(self, _options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        # Called on the reader's thread: dict() copies in one step under the GIL.
        counts = dict(self._counts)
        return [
            metrics.Observation(count, {"task": task, "changed": str(changed).lower()})
            for (task, changed), count in counts.items()
        ]


@dataclass(frozen=True)
class OptimizerMetrics:
    optimized: ConversationTally
    tokens_removed: metrics.Counter
    strategies: metrics.Counter
    summaries: metrics.Counter
    exact_counts: metrics.Counter


@cache
def optimizer_metrics() -> OptimizerMetrics:
    meter = metrics.get_meter("tollgate")
    optimized = ConversationTally()
    meter.create_observable_counter(
        "tollgate_optimizer_conversations",
        callbacks=[optimized.observe],
        description="Conversations optimized, by task and whether anything was removed",
    )
    return OptimizerMetrics(
        optimized=optimized,
        tokens_removed=meter.create_counter(
            "tollgate_optimizer_tokens_removed",
            unit="{token}",
            description="Estimated input tokens removed from requests, by task",
        ),
        strategies=meter.create_counter(
            "tollgate_optimizer_strategy_applied",
            description="Requests each strategy changed, by strategy",
        ),
        summaries=meter.create_counter(
            "tollgate_optimizer_summaries",
            description="Chunk summaries, by outcome (cached, generated, failed)",
        ),
        exact_counts=meter.create_counter(
            "tollgate_optimizer_exact_counts",
            description="Exact token counts asked for, by outcome (cached, counted, estimated)",
        ),
    )
