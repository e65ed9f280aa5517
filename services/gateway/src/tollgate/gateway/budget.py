"""Budget enforcement around a call to Claude: hold the most the request can cost, settle the
actual afterwards, release on failure.

When the ledger cannot be reached, a tenant's budgets fail closed (refuse with UNAVAILABLE) or
open (answer unmetered, and say so), by the `budget_enforcement` flag's parameters:
`failMode: closed|open` and `failOpenTenants: [...]` / `failClosedTenants: [...]`
(tollgate.common.flag_definitions.BudgetEnforcementParameters).
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

import grpc

from tollgate.common.durations import duration
from tollgate.common.errors import ServiceError, unavailable
from tollgate.common.flag_definitions import BudgetEnforcementParameters
from tollgate.gateway import dependencies
from tollgate.gateway.background import BackgroundWork, longest_retries_seconds, with_retries
from tollgate.gateway.dependencies import DependencyDown
from tollgate.gateway.flags import FlagDecision
from tollgate.gateway.public_detail import skipped_detail
from tollgate.gateway.routing import Track
from tollgate.gateway.settings import Settings
from tollgate.v1 import budget_ledger_pb2, common_pb2

log = logging.getLogger("tollgate.gateway.budget")

# A commit is money already spent: it keeps retrying through a ledger or database restart
# (doubling delays from 0.1 s: about 100 s in all). The ledger accepts late commits, even after
# the hold expired, and commits are idempotent by request id. A release is retried as long: a
# hold left unsettled is charged when it expires (below).
SETTLE_TRIES = 11
SETTLE_FIRST_DELAY_SECONDS = 0.1
# A free request's usage record (a cache hit) feeds reports only: a few tries.
USAGE_TRIES = 5
# Added to a hold's life past the latest moment its request can still settle it.
HOLD_MARGIN_SECONDS = 60.0


def hold_ttl_seconds(
    answer_seconds: float, ledger_timeout_seconds: float, ledger_max_seconds: float
) -> float:
    """How long a request's hold lives: longer than Claude may take to answer (`answer_seconds`)
    plus every retry of its commit or release, so that a gateway that is alive always settles
    it first. A hold still held at its expiry belongs to a gateway that died mid-request (or a
    ledger away longer than the retries): the ledger charges it in full rather than lose what
    Claude may have billed. Never more than `ledger_max_seconds`, the longest hold the ledger
    accepts (it refuses a longer hold_ttl)."""
    settling = longest_retries_seconds(
        SETTLE_TRIES, SETTLE_FIRST_DELAY_SECONDS, ledger_timeout_seconds
    )
    # Past the ledger's maximum (answers allowed close to it), a hold may expire before its
    # commit lands: it is then charged in full, and the late commit is answered as done.
    return min(answer_seconds + settling + HOLD_MARGIN_SECONDS, ledger_max_seconds)


def _hold_longer_than_the_ledger_allows(ledgers_reason: str) -> ServiceError:
    """The hold's length is the gateway's choice, not the caller's: a ledger that refuses it is
    configured apart from this gateway, which an operator must mend (the caller cannot)."""
    log.error(
        "the budget ledger refused the length of a budget hold (%s): set "
        "TOLLGATE_GATEWAY_BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS (and BATCH_HOLD_TTL_SECONDS) to at "
        "most the ledger's TOLLGATE_BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS",
        ledgers_reason,
    )
    return ServiceError(
        "The gateway and its budget ledger are configured apart: the ledger refused the length "
        f"of this request's budget hold ({ledgers_reason}). Nothing was sent to Claude; an "
        "operator must align the gateway's BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS with the ledger.",
        grpc.StatusCode.INTERNAL,
    )


@dataclass
class Hold:
    """What the reservation step decided: whether a hold exists and what to report."""

    held: bool
    report: common_pb2.OptimizationReport
    snapshot: common_pb2.BudgetSnapshot | None = None
    # The ledger had seen this request id before (held, committed or released): no new hold was
    # made, and a call made under it again would not be billed.
    reused: bool = False


def snapshot(states: list[budget_ledger_pb2.BudgetState]) -> common_pb2.BudgetSnapshot | None:
    """The tightest budget after the call: the scope with the least money left."""
    if not states:
        return None
    tightest = min(states, key=lambda state: state.remaining_micros)
    scope = tightest.budget.scope
    kind = budget_ledger_pb2.ScopeKind.Name(scope.kind).removeprefix("SCOPE_KIND_").lower()
    period = budget_ledger_pb2.BudgetPeriod.Name(tightest.budget.period)
    period = period.removeprefix("BUDGET_PERIOD_").lower()
    label = f"{kind}:{scope.subject_id or scope.tenant_id}/{period}"
    return common_pb2.BudgetSnapshot(
        scope=label,
        limit_micros=tightest.budget.limit_micros + tightest.override_micros,
        remaining_micros=tightest.remaining_micros,
    )


_REUSED = {
    budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_HELD: "is still being answered",
    budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_COMMITTED: "was already answered and billed",
    budget_ledger_pb2.RESERVE_OUTCOME_ALREADY_RELEASED: "was already used by a request that failed",
}


def request_id_used(request_id: str, outcome: budget_ledger_pb2.ReserveOutcome) -> ServiceError:
    """A Reserve that made no new hold: the request id was used before, so Claude is not asked
    again under it (that answer would go unbilled). Refused, never replayed."""
    state = _REUSED.get(outcome, "was already used")
    return ServiceError(
        f"The request id {request_id!r} {state}; send each new request with a new request_id.",
        grpc.StatusCode.ALREADY_EXISTS,
        metadata={"request_id": request_id},
    )


class BudgetGuard:
    def __init__(self, settings: Settings, background: BackgroundWork) -> None:
        """Each ledger call is bounded by `budget_ledger_timeout_seconds`; a hold outlives the
        longest answer (`orchestrator_timeout_seconds`) and its settling, within the longest
        hold the ledger accepts (`budget_ledger_max_hold_ttl_seconds`)."""
        self._timeout = settings.budget_ledger_timeout_seconds
        self._background = background
        self._hold_ttl = duration(
            hold_ttl_seconds(
                settings.orchestrator_timeout_seconds,
                self._timeout,
                settings.budget_ledger_max_hold_ttl_seconds,
            )
        )

    async def reserve(
        self,
        track: Track[Any],
        decision: FlagDecision[BudgetEnforcementParameters],
        context: common_pb2.RequestContext,
        amount_micros: int,
        *,
        ttl_seconds: float | None = None,
    ) -> Hold:
        """Hold `amount_micros`, charged in full if it is still held when it expires: after
        `hold_ttl_seconds`, or `ttl_seconds` (a Message Batch's, whose results may be read
        much later)."""
        report = common_pb2.OptimizationReport(
            optimization="budget_enforcement",
            mode=common_pb2.FLAG_MODE_SHADOW if decision.shadow else common_pb2.FLAG_MODE_ENFORCE,
        )
        ttl = self._hold_ttl if ttl_seconds is None else duration(ttl_seconds)
        request = budget_ledger_pb2.ReserveRequest(
            context=context, amount_micros=amount_micros, hold_ttl=ttl, charge_on_expiry=True
        )
        try:
            reply = await dependencies.call(
                track, "Reserve", track.stub.Reserve, request, self._timeout
            )
        except DependencyDown as exc:
            if exc.error is not None:
                # The call went out: the ledger may make the hold after we stopped waiting. It is
                # released, or recorded as released before it comes, so that it is never left
                # to expire and be charged for a request that was refused or went unmetered.
                # Retried as long as a commit: the ledger may have committed the hold and lost
                # the answer when its database went away, and the Release lands when it is back.
                self.release(track, context)
            if decision.shadow or decision.parameters.fails_open(context.tenant_id):
                report.detail = f"{skipped_detail('budget_ledger', exc)}; answered unmetered"
                log.warning("budget fail-open for %s: %s", context.tenant_id, exc)
                return Hold(held=False, report=report)
            raise unavailable(
                "The budget ledger is unavailable and this tenant's budgets fail closed; "
                "try again shortly."
            ) from exc
        except grpc.aio.AioRpcError as exc:
            code, message, metadata = dependencies.status_of(exc)
            if code == grpc.StatusCode.RESOURCE_EXHAUSTED and decision.shadow:
                report.detail = f"would have refused: {message}"
                return Hold(held=False, report=report)
            if code == grpc.StatusCode.INVALID_ARGUMENT and "hold_ttl" in (
                dependencies.violated_fields(exc)
            ):
                refusal = _hold_longer_than_the_ledger_allows(message)
                if decision.shadow:  # measuring only: the misconfiguration is logged, not served
                    report.detail = f"not metered: {refusal.message}"
                    return Hold(held=False, report=report)
                raise refusal from exc
            raise ServiceError(message, code, metadata=metadata) from exc
        if reply.outcome != budget_ledger_pb2.RESERVE_OUTCOME_RESERVED:
            raise request_id_used(context.request_id, reply.outcome)
        report.applied = True
        report.detail = f"held {amount_micros} micro-dollars"
        new = (
            budget_ledger_pb2.RESERVE_OUTCOME_UNSPECIFIED,
            budget_ledger_pb2.RESERVE_OUTCOME_RESERVED,
        )
        return Hold(
            held=True,
            report=report,
            snapshot=snapshot(list(reply.states)),
            reused=reply.replayed or reply.outcome not in new,
        )

    def commit(
        self,
        track: Track[Any],
        context: common_pb2.RequestContext,
        record: budget_ledger_pb2.UsageRecord,
        tokens: int,
    ) -> None:
        """Post the actual cost off the critical path; retried until it lands (idempotent)."""
        request = budget_ledger_pb2.CommitRequest(
            context=context,
            actual_micros=record.cost.total_micros,
            actual_tokens=tokens,
            record=record,
        )
        self._send_later("ledger commit", track, "Commit", request)

    def release(self, track: Track[Any], context: common_pb2.RequestContext) -> None:
        """Give a hold back off the critical path; retried (idempotent) like a commit."""
        request = budget_ledger_pb2.ReleaseRequest(context=context)
        self._send_later("ledger release", track, "Release", request)

    def record_usage(
        self,
        track: Track[Any],
        context: common_pb2.RequestContext,
        record: budget_ledger_pb2.UsageRecord,
    ) -> None:
        """A request that cost nothing (a cache hit), for usage and savings reports."""
        request = budget_ledger_pb2.RecordUsageRequest(context=context, record=record)
        self._send_later("ledger usage", track, "RecordUsage", request, tries=USAGE_TRIES)

    def _send_later(
        self, name: str, track: Track[Any], method: str, request: Any, *, tries: int = SETTLE_TRIES
    ) -> None:
        """Send a ledger call off the critical path, retried (every ledger call sent here is
        idempotent by request id) while the ledger cannot be reached."""
        self._background.spawn(
            name,
            with_retries(
                lambda: dependencies.call(
                    track, method, getattr(track.stub, method), request, self._timeout
                ),
                retry_on=(DependencyDown,),
                tries=tries,
                first_delay=SETTLE_FIRST_DELAY_SECONDS,
            ),
        )
