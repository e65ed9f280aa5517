"""The optimizer's own metrics (exported to Prometheus with the rest of the process's)."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics

from tollgate.common.summed_counter import SummedCounter


@dataclass(frozen=True)
class OptimizerMetrics:
    # Added to on every request: summed in process and read at collection.
    optimized: SummedCounter
    tokens_removed: metrics.Counter
    strategies: metrics.Counter
    summaries: metrics.Counter
    exact_counts: metrics.Counter


@cache
def optimizer_metrics() -> OptimizerMetrics:
    meter = metrics.get_meter("tollgate")
    return OptimizerMetrics(
        optimized=SummedCounter(
            meter,
            "tollgate_optimizer_conversations",
            description="Conversations optimized, by task and whether anything was removed",
        ),
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
