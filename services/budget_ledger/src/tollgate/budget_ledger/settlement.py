"""One group-commit transaction: Reserve, Commit and Release calls that arrived together.

The batch locks every hold and counter its calls touch (batch_store.py), then decides each call
in arrival order against the locked totals — exactly as if the calls had run one after another —
and writes all the accepted ones at once: new holds, settled holds, entries and one update per
counter. A call that is refused (budget exhausted, a request id reused with another amount or by
another key) writes nothing and does not disturb the others. Either the whole batch commits or
none of it does, so a crash or a dropped connection mid-batch loses nothing and posts nothing
twice: every caller gets an error and its retry finds the state as it was.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import datetime

import asyncpg
import grpc

from tollgate.budget_ledger import batch_store, entries
from tollgate.budget_ledger.alerts import AlertRaiser, RaisedAlerts
from tollgate.budget_ledger.batch_store import CounterKey, NewHold, RequestKey
from tollgate.budget_ledger.model import Counter, HoldStatus, Requester, ReserveOutcome, ScopeKind
from tollgate.budget_ledger.validation import CommitInput, ReleaseInput, ReserveInput
from tollgate.common.errors import (
    ServiceError,
    failed_precondition,
    permission_denied,
    resource_exhausted,
)

Call = ReserveInput | CommitInput | ReleaseInput


@dataclass
class ReserveResult:
    hold_id: str
    expires_at: datetime
    status: HoldStatus
    outcome: ReserveOutcome
    counters: list[Counter]

    @property
    def replayed(self) -> bool:
        return self.outcome is not ReserveOutcome.RESERVED


@dataclass
class CommitResult:
    entry_id: str
    over_hold: bool
    late: bool
    replayed: bool
    held_micros: int
    counters: list[Counter]


@dataclass(frozen=True)
class ReleaseResult:
    released: bool
    status: HoldStatus | None


Outcome = ReserveResult | CommitResult | ReleaseResult | ServiceError


@dataclass
class BatchResult:
    outcomes: list[Outcome]
    raised: RaisedAlerts = field(default_factory=lambda: RaisedAlerts([], []))


@dataclass
class _Hold:
    """A hold as this batch sees it: stored before, or made by an earlier call of the batch."""

    # The scopes of the call that made it; its API key is the only one that may use it.
    owner: Requester
    amount_micros: int
    tokens: int
    status: HoldStatus
    counter_keys: list[CounterKey]
    expires_at: datetime | None = None
    # What the hold was when the batch began; None when the batch creates it.
    stored_status: HoldStatus | None = None
    ttl_seconds: float = 0.0
    charge_on_expiry: bool = False

    @property
    def is_tombstone(self) -> bool:
        """Recorded by a Release of an id that never held (a Reserve always holds a positive
        amount), so that a Reserve arriving after it holds nothing."""
        return self.status is HoldStatus.RELEASED and self.amount_micros == 0


@dataclass
class _Entry:
    kind: str
    cost_micros: int
    tokens: int
    over_hold: bool
    late: bool
    held_micros: int
    # None until the batch has inserted it.
    id: int | None = None
    # The sweeper charged the hold's amount when it expired (see sweeper.py).
    charged_on_expiry: bool = False


_REPLAY_OUTCOME = {
    HoldStatus.HELD: ReserveOutcome.ALREADY_HELD,
    HoldStatus.COMMITTED: ReserveOutcome.ALREADY_COMMITTED,
    HoldStatus.RELEASED: ReserveOutcome.ALREADY_RELEASED,
    HoldStatus.EXPIRED: ReserveOutcome.ALREADY_RELEASED,
}


class _Batch:
    def __init__(
        self,
        holds: dict[RequestKey, _Hold],
        posted: dict[RequestKey, _Entry],
        counters: list[tuple[Counter, bool]],
    ) -> None:
        self.holds = holds
        self.entries = posted
        self.counters = {counter.key: counter for counter, _ in counters}
        # This period's counters by tenant: a batch may span many tenants.
        self._current: dict[str, list[Counter]] = defaultdict(list)
        for counter, current in counters:
            if current:
                self._current[counter.budget.scope.tenant_id].append(counter)
        self.new_entries: list[tuple[RequestKey, entries.NewEntry]] = []
        self.touched: set[CounterKey] = set()
        self.deltas: dict[CounterKey, tuple[int, int, int, int]] = defaultdict(lambda: (0, 0, 0, 0))

    def current_of(self, who: Requester) -> list[Counter]:
        return [c for c in self._current.get(who.tenant_id, ()) if _applies(c, who)]

    def move(
        self, keys: Sequence[CounterKey], *, spent: int, held: int, spent_t: int, held_t: int
    ) -> None:
        """Add the deltas to the counters (in memory, and to the batch's single update)."""
        for key in keys:
            counter = self.counters[key]
            counter.spent_micros += spent
            counter.held_micros += held
            counter.spent_tokens += spent_t
            counter.held_tokens += held_t
            old = self.deltas[key]
            self.deltas[key] = (old[0] + spent, old[1] + held, old[2] + spent_t, old[3] + held_t)

    def counters_of(self, hold: _Hold) -> list[Counter]:
        return [self.counters[key] for key in hold.counter_keys]

    # Each decision returns a function that builds the call's result once the batch is
    # written (ids and expiry times come from the database), or the error refusing the call.

    def reserve(self, call: ReserveInput) -> Callable[[], Outcome] | ServiceError:
        who, key = call.requester, (call.requester.tenant_id, call.request_id)
        hold = self.holds.get(key)
        if hold is not None:
            return self._replay_reserve(call, hold)
        counters = self.current_of(who)
        blocking = next((c for c in counters if not c.fits(call.micros, call.tokens)), None)
        if blocking is not None:
            return _exhausted(blocking, call)
        hold = _Hold(
            who,
            call.micros,
            call.tokens,
            HoldStatus.HELD,
            [c.key for c in counters],
            ttl_seconds=call.ttl_seconds,
            charge_on_expiry=call.charge_on_expiry,
        )
        self.holds[key] = hold
        self.move(hold.counter_keys, spent=0, held=call.micros, spent_t=0, held_t=call.tokens)

        def result() -> Outcome:
            assert hold.expires_at is not None
            return ReserveResult(
                call.request_id,
                hold.expires_at,
                HoldStatus.HELD,
                ReserveOutcome.RESERVED,
                self.counters_of(hold),
            )

        return result

    def _replay_reserve(
        self, call: ReserveInput, hold: _Hold
    ) -> Callable[[], Outcome] | ServiceError:
        if refusal := _other_key(hold, call.requester, call.request_id, "reserve"):
            return refusal
        if hold.status is HoldStatus.HELD and (
            hold.amount_micros != call.micros or hold.tokens != call.tokens
        ):
            return ServiceError(
                f"request id {call.request_id!r} already reserved {hold.amount_micros} "
                f"micro-dollars and {hold.tokens} tokens; a hold cannot be changed, use a new "
                "request id.",
                grpc.StatusCode.ALREADY_EXISTS,
            )
        status = hold.status

        def result() -> Outcome:
            assert hold.expires_at is not None
            return ReserveResult(
                call.request_id,
                hold.expires_at,
                status,
                _REPLAY_OUTCOME[status],
                self.counters_of(hold),
            )

        return result

    def commit(self, call: CommitInput) -> Callable[[], Outcome] | ServiceError:
        who, key = call.requester, (call.requester.tenant_id, call.request_id)
        hold = self.holds.get(key)
        posted = self.entries.get(key)
        if posted is not None and posted.kind != "commit":
            return failed_precondition(
                f"request id {call.request_id!r} was already recorded as a free request by "
                "RecordUsage; a charge needs its own request id."
            )
        if hold is not None:
            if refusal := _other_key(hold, who, call.request_id, "commit"):
                return refusal
            if hold.status is HoldStatus.COMMITTED:
                return self._replay_commit(call, hold, posted)
        late = hold is None or hold.status is not HoldStatus.HELD
        if hold is None:
            hold = self.holds[key] = _Hold(who, 0, 0, HoldStatus.COMMITTED, [])
        if late and not hold.counter_keys:
            # No hold at all (e.g. the gateway reserved nothing while the ledger was down), or
            # one charged against no counter (an id a Release recorded before any hold): the
            # charge is still posted against this period's budgets of the request's scopes. A
            # live hold keeps its counters, even none: what it holds is on those alone.
            hold.counter_keys = [c.key for c in self.current_of(who)]
        held_micros = 0 if late else hold.amount_micros
        held_tokens = 0 if late else hold.tokens
        hold.status = HoldStatus.COMMITTED
        entry = _Entry(
            "commit",
            call.actual_micros,
            call.actual_tokens,
            call.actual_micros > held_micros,
            late,
            held_micros,
        )
        self.entries[key] = entry
        self.new_entries.append(
            (
                key,
                entries.NewEntry(
                    requester=who,
                    request_id=call.request_id,
                    kind="commit",
                    held_micros=held_micros,
                    cost_micros=call.actual_micros,
                    tokens=call.actual_tokens,
                    record=call.record,
                    over_hold=entry.over_hold,
                    late=late,
                ),
            )
        )
        self.move(
            hold.counter_keys,
            spent=call.actual_micros,
            held=-held_micros,
            spent_t=call.actual_tokens,
            held_t=-held_tokens,
        )
        self.touched.update(hold.counter_keys)
        return self._commit_result(hold, entry, replayed=False)

    def _replay_commit(
        self, call: CommitInput, hold: _Hold, posted: _Entry | None
    ) -> Callable[[], Outcome] | ServiceError:
        if posted is None:  # pragma: no cover - hold and entry are written together
            return failed_precondition("the hold is committed but its entry is missing")
        if posted.charged_on_expiry:
            # The hold was charged in full when it expired; the late actual cost changes
            # nothing (the ledger never charges a request id twice) and is answered as done.
            return self._commit_result(hold, posted, replayed=True)
        if posted.cost_micros != call.actual_micros or posted.tokens != call.actual_tokens:
            # Not a retry: a second answer under one request id. It is refused, never posted
            # as if it were the first one's retry.
            return ServiceError(
                f"request id {call.request_id!r} was already committed at "
                f"{posted.cost_micros} micro-dollars and {posted.tokens} tokens; a second "
                "charge needs its own request id.",
                grpc.StatusCode.ALREADY_EXISTS,
            )
        return self._commit_result(hold, posted, replayed=True)

    def _commit_result(
        self, hold: _Hold, entry: _Entry, *, replayed: bool
    ) -> Callable[[], Outcome]:
        def result() -> Outcome:
            assert entry.id is not None
            return CommitResult(
                entries.entry_id(entry.id),
                entry.over_hold,
                entry.late,
                replayed,
                entry.held_micros,
                self.counters_of(hold),
            )

        return result

    def release(self, call: ReleaseInput) -> Callable[[], Outcome] | ServiceError:
        key = (call.requester.tenant_id, call.request_id)
        hold = self.holds.get(key)
        if hold is None:
            # Nothing to release yet — but a Reserve of this id may still be on its way (its
            # caller stopped waiting for the answer and released it). The id is recorded as
            # released, so that such a Reserve makes no hold afterwards: a hold nobody knows
            # of would be left to expire, and the gateway's are charged when they do.
            self.holds[key] = _Hold(call.requester, 0, 0, HoldStatus.RELEASED, [])
            outcome = ReleaseResult(False, None)
        elif refusal := _other_key(hold, call.requester, call.request_id, "release"):
            return refusal
        elif hold.is_tombstone:
            # Released again before any Reserve held: it still never held, as the first said.
            outcome = ReleaseResult(False, None)
        elif hold.status is HoldStatus.COMMITTED:
            outcome = ReleaseResult(False, hold.status)
        elif hold.status is not HoldStatus.HELD:
            outcome = ReleaseResult(True, hold.status)
        else:
            self.move(
                hold.counter_keys,
                spent=0,
                held=-hold.amount_micros,
                spent_t=0,
                held_t=-hold.tokens,
            )
            hold.status = HoldStatus.RELEASED
            outcome = ReleaseResult(True, HoldStatus.RELEASED)
        return lambda: outcome


async def settle(
    conn: asyncpg.Connection, calls: Sequence[Call], alerts: AlertRaiser
) -> BatchResult:
    """Decide and write one batch of calls inside the caller's transaction."""
    keys = sorted({(c.requester.tenant_id, c.request_id) for c in calls})
    stored = await batch_store.read_batch(conn, keys)
    # Releases only ever touch their hold's counters; the others may need this period's.
    requesters = sorted(
        {c.requester for c in calls if not isinstance(c, ReleaseInput)},
        key=lambda r: (r.tenant_id, r.api_key_id, r.contact_id),
    )
    held_keys = [key for linked in stored.links.values() for key in linked]
    counters = await batch_store.lock_counters(conn, requesters, held_keys)

    batch = _Batch(
        {
            key: _Hold(
                Requester(key[0], hold.api_key_id, hold.contact_id),
                hold.amount_micros,
                hold.tokens,
                hold.status,
                stored.links[key],
                hold.expires_at,
                stored_status=hold.status,
            )
            for key, hold in stored.holds.items()
        },
        {
            key: _Entry(
                e.kind, e.cost_micros, e.tokens, e.over_hold, e.late, 0, e.id, e.charged_on_expiry
            )
            for key, e in stored.posted.items()
        },
        counters,
    )
    decisions = [_decide(batch, call) for call in calls]
    await _write(conn, batch)
    raised = await alerts.raise_crossed(conn, [batch.counters[k] for k in sorted(batch.touched)])
    outcomes = [d if isinstance(d, ServiceError) else d() for d in decisions]
    return BatchResult(outcomes, raised)


def _decide(batch: _Batch, call: Call) -> Callable[[], Outcome] | ServiceError:
    if isinstance(call, ReserveInput):
        return batch.reserve(call)
    if isinstance(call, CommitInput):
        return batch.commit(call)
    return batch.release(call)


async def _write(conn: asyncpg.Connection, batch: _Batch) -> None:
    new_holds = [
        NewHold(
            hold.owner,
            key[1],
            hold.amount_micros,
            hold.tokens,
            hold.status,
            hold.ttl_seconds,
            tuple(hold.counter_keys),
            hold.charge_on_expiry,
        )
        for key, hold in batch.holds.items()
        if hold.stored_status is None
    ]
    written = await batch_store.write_batch(
        conn,
        new_holds,
        {
            key: hold.status
            for key, hold in batch.holds.items()
            if hold.stored_status is not None and hold.stored_status is not hold.status
        },
        [entry for _, entry in batch.new_entries],
        dict(batch.deltas),
    )
    for key, expires_at in written.expiries.items():
        batch.holds[key].expires_at = expires_at
    for key, _ in batch.new_entries:
        batch.entries[key].id = written.entry_ids[key]


def _applies(counter: Counter, who: Requester) -> bool:
    """Whether a counter of the requester's tenant is of its tenant, key or contact."""
    scope = counter.budget.scope
    if scope.kind is ScopeKind.TENANT:
        return True
    subject = who.api_key_id if scope.kind is ScopeKind.API_KEY else who.contact_id
    return scope.subject_id == subject


def _other_key(hold: _Hold, who: Requester, request_id: str, verb: str) -> ServiceError | None:
    """Holds are bound to the API key that made them: no other key may use or settle them."""
    if hold.owner.api_key_id == who.api_key_id:
        return None
    return permission_denied(
        f"request id {request_id!r} belongs to another API key of this tenant; only the key "
        f"that made a hold may {verb} it."
    )


def _exhausted(counter: Counter, request: ReserveInput) -> ServiceError:
    budget = counter.budget
    period = budget.period.label
    if counter.spent_micros + counter.held_micros + request.micros > counter.effective_limit_micros:
        message = (
            f"The {period} budget of {budget.scope.describe()} has {counter.remaining_micros} "
            f"micro-dollars left of {counter.effective_limit_micros}; this request needs "
            f"{request.micros}."
        )
    else:
        left = max(budget.limit_tokens - counter.spent_tokens - counter.held_tokens, 0)
        message = (
            f"The {period} token budget of {budget.scope.describe()} has {left} tokens left "
            f"of {budget.limit_tokens}; this request needs {request.tokens}."
        )
    error = resource_exhausted(
        message,
        scope_kind=budget.scope.kind.name.lower(),
        tenant_id=budget.scope.tenant_id,
        subject_id=budget.scope.subject_id,
        period=period,
        period_end=counter.period_end.isoformat() if counter.period_end else "",
        limit_micros=str(budget.limit_micros),
        override_micros=str(counter.override_micros),
        spent_micros=str(counter.spent_micros),
        held_micros=str(counter.held_micros),
        remaining_micros=str(counter.remaining_micros),
        requested_micros=str(request.micros),
        limit_tokens=str(budget.limit_tokens),
        spent_tokens=str(counter.spent_tokens),
        held_tokens=str(counter.held_tokens),
        requested_tokens=str(request.tokens),
    )
    error.reason = "BUDGET_EXHAUSTED"
    return error
