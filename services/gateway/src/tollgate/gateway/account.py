"""The account every gateway response carries: tokens, cost, savings, where the answer came from."""

from __future__ import annotations

import time

from tollgate.v1 import common_pb2, orchestrator_pb2


def account_for_generation(
    context: common_pb2.RequestContext,
    result: orchestrator_pb2.GenerationResult,
    started: float,
) -> common_pb2.Account:
    """The account of a request Claude answered, with nothing optimized away.

    The baseline is what the request cost as sent; optimizations that change the request or
    answer it from a cache report their savings against it.
    """
    return common_pb2.Account(
        request_id=context.request_id,
        trace_id=context.trace_id,
        usage=result.response.usage,
        cost=result.cost,
        baseline_cost_micros=result.cost.total_micros,
        saved_micros=0,
        cache_status=common_pb2.CACHE_STATUS_BYPASS,
        model=result.response.model,
        fallback_reason=result.fallback_reason,
        served_by=[common_pb2.ServedBy(service="orchestrator", track="stable")],
        latency_micros=int((time.perf_counter() - started) * 1_000_000),
    )
