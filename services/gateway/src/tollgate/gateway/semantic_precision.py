"""The semantic cache's measured precision as the gateway shows it.

The semantic-cache service keeps the verdicts and decides; the gateway keeps the latest reading
per tenant and task it was told (by a SemanticVerify reply or SemanticStats) to put it in the
account's semantic-cache report, the metrics and the usage report.
"""

from __future__ import annotations

import logging
from typing import Any

import grpc

from tollgate.common.tasks import task_name
from tollgate.gateway import dependencies
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.metrics import instruments
from tollgate.gateway.routing import Track
from tollgate.v1 import semantic_cache_pb2

log = logging.getLogger("tollgate.gateway.semantic_precision")


def describe(precision: semantic_cache_pb2.SemanticPrecision) -> str:
    """E.g. "measured precision 0.500 over 2 verified (lower bound 0.095, floor 0.990): shadow"."""
    verified = precision.agreements + precision.disagreements
    state = "shadow" if precision.shadow else "serving"
    return (
        f"measured precision {precision.precision:.3f} over {verified} verified (lower bound "
        f"{precision.lower_bound:.3f}, floor {precision.floor:.3f}): {state}"
    )


def show(tenant: str, precision: semantic_cache_pb2.SemanticPrecision) -> None:
    """Set the tenant's precision gauges for the task."""
    if precision.agreements + precision.disagreements == 0:
        return
    tools = instruments()
    labels = {"tenant": tenant, "task": precision.task}
    tools.semantic_precision.set(precision.precision, labels)
    tools.semantic_precision_lower_bound.set(precision.lower_bound, labels)
    tools.semantic_shadow.set(1 if precision.shadow else 0, labels)


class PrecisionBoard:
    """The latest precision the gateway was told, per tenant and task (this replica's)."""

    def __init__(self) -> None:
        self._latest: dict[tuple[str, str], semantic_cache_pb2.SemanticPrecision] = {}

    def update(self, tenant: str, precision: semantic_cache_pb2.SemanticPrecision) -> None:
        self._latest[(tenant, precision.task)] = precision
        show(tenant, precision)

    def latest(self, tenant: str, task: int) -> semantic_cache_pb2.SemanticPrecision | None:
        return self._latest.get((tenant, task_name(task)))


async def tenant_precision(
    track: Track[Any], tenant: str, timeout: float
) -> list[semantic_cache_pb2.SemanticPrecision]:
    """The tenant's precision per task from SemanticStats; empty when the service cannot say."""
    try:
        reply = await dependencies.call(
            track,
            "SemanticStats",
            track.stub.SemanticStats,
            semantic_cache_pb2.SemanticStatsRequest(tenant_id=tenant),
            timeout,
        )
    except (DependencyDown, grpc.aio.AioRpcError) as exc:
        log.warning("semantic precision of %s unavailable: %s", tenant, exc)
        return []
    for precision in reply.precision:
        show(tenant, precision)
    return list(reply.precision)
