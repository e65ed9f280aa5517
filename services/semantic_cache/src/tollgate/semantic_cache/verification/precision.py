"""Measured precision per tenant and task, and the switch to shadow when it is not good enough.

Every verified hit (the cached answer next to Claude's fresh one) is a verdict: agreed or not.
Over the measurement window the verdicts of a tenant and task give a precision and its Wilson
interval. The tenant's semantic cache for that task is in shadow (matches are reported as
would-be hits, never served) while:

- the lower bound is under the tenant's floor, once there are enough verdicts for a perfect
  record to clear it (`sample_to_clear`: 381 at a 0.99 floor and 95% confidence); or
- before that, the upper bound is under the floor: the verdicts already show, at the configured
  confidence, that the precision is below it (e.g. 2 disagreements in the first 10).

So a new tenant serves from its first hit and is switched off on evidence, not on a lack of it;
a switched tenant's would-be hits are all verified, so it returns to serving when the verdicts
clear the floor again. Switching to shadow is logged at WARNING and counted as a metric.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

from opentelemetry import metrics

from tollgate.common.lru import LruCache
from tollgate.semantic_cache.verification.store import Verdict, VerdictStore
from tollgate.semantic_cache.verification.wilson import sample_to_clear, wilson_interval, z_score

log = logging.getLogger("tollgate.semantic_cache.precision")


@dataclass(frozen=True)
class PrecisionPolicy:
    default_floor: float
    tenant_floors: dict[str, float]
    confidence: float
    window_seconds: float

    def floor_for(self, tenant: str) -> float:
        return self.tenant_floors.get(tenant, self.default_floor)


@dataclass(frozen=True)
class Precision:
    task: str
    agreements: int
    disagreements: int
    lower_bound: float
    upper_bound: float
    floor: float
    shadow: bool
    reason: str

    @property
    def verified(self) -> int:
        return self.agreements + self.disagreements

    @property
    def precision(self) -> float:
        return self.agreements / self.verified if self.verified else 0.0


def judge(task: str, agreements: int, disagreements: int, floor: float, z: float) -> Precision:
    """The precision of these verdicts, and whether they put the cache in shadow."""
    total = agreements + disagreements
    lower, upper = wilson_interval(agreements, total, z)
    needed = sample_to_clear(floor, z)
    if total == 0:
        shadow, reason = False, "no verified hit yet"
    elif total < needed:
        shadow = upper < floor
        reason = (
            f"{agreements} of {total} verified hits agree; the upper bound {upper:.4f} is "
            f"{'under' if shadow else 'not under'} the floor {floor:.4f} "
            f"(the lower bound decides from {needed} verified hits)"
        )
    else:
        shadow = lower < floor
        reason = (
            f"{agreements} of {total} verified hits agree; the lower bound {lower:.4f} is "
            f"{'under' if shadow else 'at or above'} the floor {floor:.4f}"
        )
    return Precision(task, agreements, disagreements, lower, upper, floor, shadow, reason)


class PrecisionMonitor:
    """Records verdicts and answers "is this tenant's cache for this task in shadow?".

    Answers are cached for `refresh_seconds` so a lookup costs no store query most of the time;
    a verdict recorded here refreshes at once, one recorded by another replica within
    `refresh_seconds`.
    """

    def __init__(
        self,
        store: VerdictStore,
        policy: PrecisionPolicy,
        *,
        refresh_seconds: float = 5.0,
        clock: Callable[[], float] = time.time,
        max_tracked: int = 100_000,
    ) -> None:
        self._store = store
        self._policy = policy
        self._z = z_score(policy.confidence)
        self._refresh_seconds = refresh_seconds
        self._clock = clock
        self._known: LruCache[tuple[str, str], tuple[float, Precision]] = LruCache(max_tracked)
        meter = metrics.get_meter("tollgate")
        self._verdicts = meter.create_counter(
            "tollgate_semantic_verifications",
            description="Verified semantic-cache hits by task and whether the answers agreed",
        )
        self._alerts = meter.create_counter(
            "tollgate_semantic_precision_alerts",
            description="Tenants' semantic caches switched to shadow by measured precision",
        )

    @property
    def store(self) -> VerdictStore:
        return self._store

    def _since_ms(self) -> int:
        return int((self._clock() - self._policy.window_seconds) * 1000)

    async def precision(self, tenant: str, task: str, *, fresh: bool = False) -> Precision:
        now = self._clock()
        cached = self._known.get((tenant, task))
        if cached is not None and not fresh and now - cached[0] < self._refresh_seconds:
            return cached[1]
        tally = await self._store.tally(tenant, task, self._since_ms())
        found = judge(
            task, tally.agreements, tally.disagreements, self._policy.floor_for(tenant), self._z
        )
        self._known.put((tenant, task), (now, found))
        return found

    async def in_shadow(self, tenant: str, task: str) -> bool:
        return (await self.precision(tenant, task)).shadow

    async def record(self, verdict: Verdict) -> tuple[bool, Precision]:
        """Keep the verdict; (whether it was new, the precision after it)."""
        was_shadow = await self.in_shadow(verdict.tenant, verdict.task)
        recorded = await self._store.record(verdict)
        if recorded:
            self._verdicts.add(1, {"task": verdict.task, "agreed": str(verdict.agreed).lower()})
        after = await self.precision(verdict.tenant, verdict.task, fresh=True)
        if after.shadow and not was_shadow:
            self._alerts.add(1, {"task": verdict.task})
            log.warning(
                "semantic cache switched to shadow: measured precision under the floor",
                extra={
                    "tenant": verdict.tenant,
                    "task": verdict.task,
                    "agreements": after.agreements,
                    "disagreements": after.disagreements,
                    "lower_bound": round(after.lower_bound, 4),
                    "floor": after.floor,
                    "reason": after.reason,
                },
            )
        elif was_shadow and not after.shadow:
            log.info(
                "semantic cache serving again: measured precision back above the floor",
                extra={"tenant": verdict.tenant, "task": verdict.task, "reason": after.reason},
            )
        return recorded, after

    async def purge(self) -> int:
        return await self._store.purge(self._since_ms())
