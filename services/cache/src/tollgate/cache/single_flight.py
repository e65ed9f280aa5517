"""Single flight: concurrent identical misses lead to one upstream call, across all replicas.

The first caller to miss takes the fill lease (a Redis key with a timeout) and goes upstream;
the others wait for its answer by polling the entry, with backoff, up to their own wait limit.
If the holder dies, its lease times out and the next waiter to look takes it over. If it gives
the lease back without an answer (the upstream call failed), one waiter takes it over at once.
If its answer was not cacheable, the waiters are sent upstream at once (they would only queue
behind one another for answers that will never be stored).
"""

from __future__ import annotations

import asyncio
import enum
import time
from dataclasses import dataclass

from tollgate.cache.entries import CacheUnavailable, EntryStore, ProbeState
from tollgate.cache.keys import TenantKeys
from tollgate.cache.metrics import instruments


class Outcome(enum.Enum):
    HIT = "hit"
    # Miss, and this caller holds the lease: it goes upstream and stores the answer.
    LEASED = "leased"
    # Miss; nobody was filling the entry (and this caller did not ask for the lease).
    MISS = "miss"
    # Miss; another caller holds the lease and this one was not to wait (or waited in vain).
    FILL_PENDING = "fill_pending"
    WAIT_TIMED_OUT = "wait_timed_out"
    # Miss; an identical request's answer was just found not cacheable.
    UNCACHEABLE = "uncacheable"
    # Redis is unavailable: a miss without a lease.
    DEGRADED = "degraded"
    # Another caller holds the lease and this one, asked not to wait here, would have waited:
    # nothing was counted; the caller looks again where it may wait (see `lookup`).
    WAIT_DEFERRED = "wait_deferred"


@dataclass(frozen=True)
class LookupResult:
    outcome: Outcome
    value: bytes = b""
    lease: str = ""
    detail: str = ""


@dataclass(frozen=True)
class PollSchedule:
    initial_seconds: float
    max_seconds: float


class SingleFlight:
    def __init__(self, store: EntryStore, poll: PollSchedule) -> None:
        self._store = store
        self._poll = poll

    async def lookup(
        self,
        keys: TenantKeys,
        key_hash: str,
        *,
        acquire: bool,
        wait_seconds: float,
        defer_wait: bool = False,
    ) -> LookupResult:
        """Look the entry up; take the lease on a miss when `acquire`; wait for another
        caller's fill up to `wait_seconds`. Every lookup counts once, as a hit or a miss.

        With `defer_wait`, a lookup that would wait does not: it answers WAIT_DEFERRED after its
        first look, which (the lease being held) neither wrote nor counted anything, so the
        caller can make the whole lookup again where waiting holds up nobody else."""
        started = time.monotonic()
        deadline = started + wait_seconds
        waited = False
        try:
            probe = await self._store.probe(
                keys, key_hash, acquire=acquire, count_held_as_miss=wait_seconds <= 0
            )
            if defer_wait and wait_seconds > 0 and probe.state is ProbeState.LEASE_HELD:
                return LookupResult(Outcome.WAIT_DEFERRED)
            interval = self._poll.initial_seconds
            while probe.state is ProbeState.LEASE_HELD and wait_seconds > 0:
                waited = True
                pause = min(interval, deadline - time.monotonic())
                if probe.lease_left_seconds > 0:
                    # Look again as the holder's lease runs out, to take it over promptly.
                    pause = min(pause, probe.lease_left_seconds + 0.001)
                await asyncio.sleep(max(0.0, pause))
                interval = min(interval * 2, self._poll.max_seconds)
                # The look that cannot be followed by another one counts the miss.
                is_last_look = time.monotonic() + interval >= deadline
                probe = await self._store.probe(
                    keys, key_hash, acquire=acquire, count_held_as_miss=is_last_look
                )
                if is_last_look:
                    break
        except CacheUnavailable as exc:
            result = LookupResult(Outcome.DEGRADED, detail=str(exc))
        else:
            outcome = _OUTCOMES[probe.state]
            if outcome is Outcome.FILL_PENDING and waited:
                outcome = Outcome.WAIT_TIMED_OUT
            result = LookupResult(outcome, value=probe.value, lease=probe.lease)
        if waited:
            elapsed = time.monotonic() - started
            instruments().fill_wait.record(elapsed, {"outcome": result.outcome.value})
        return result


_OUTCOMES = {
    ProbeState.HIT: Outcome.HIT,
    ProbeState.LEASE_TAKEN: Outcome.LEASED,
    ProbeState.MISS: Outcome.MISS,
    ProbeState.UNCACHEABLE: Outcome.UNCACHEABLE,
    ProbeState.LEASE_HELD: Outcome.FILL_PENDING,
}
