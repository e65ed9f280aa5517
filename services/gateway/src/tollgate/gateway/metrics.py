"""What the gateway exports on its Prometheus endpoint (the dashboard and runbook query these).

Money is counted in integer micro-dollars. Counters carry no OpenTelemetry `unit`: the
Prometheus exporter would append it to the name (`tollgate_cost_micros_micro_USD_total`), and the
dashboard queries `tollgate_cost_micros_total`. Backend-call latency uses explicit second-based
buckets, from a cache lookup (a few milliseconds) to a long answer from Claude (minutes).
The counters added to on every request are summed by the gateway and read by the SDK when it
collects (tollgate.common.summed_counter): the same counters, for a fraction of the CPU.
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from functools import cache

from opentelemetry import metrics

from tollgate.common.breaker import BreakerState, CircuitBreaker
from tollgate.common.summed_counter import SummedCounter
from tollgate.common.telemetry import HeldHistogram, seconds_histogram

CALL_SECONDS_BUCKETS = (
    0.001,
    0.0025,
    0.005,
    0.01,
    0.025,
    0.05,
    0.1,
    0.25,
    0.5,
    1.0,
    2.5,
    5.0,
    10.0,
    30.0,
    60.0,
    120.0,
)
# The breaker gauge's values, so that `max by (backend)` shows the worst track.
BREAKER_LEVEL = {BreakerState.CLOSED: 0, BreakerState.HALF_OPEN: 1, BreakerState.OPEN: 2}


class BreakerStates:
    """`tollgate_gateway_breaker_state{backend,track}`, read from the breakers at collection.

    Nothing is set on the call path: each scrape or export reads every watched breaker's state
    as it is then, so the series exists from the start (0, closed), shows half-open once the
    open time has passed even with no call since, and costs a request nothing.
    """

    def __init__(self, meter: metrics.Meter) -> None:
        self._breakers: dict[tuple[str, str], CircuitBreaker] = {}
        meter.create_observable_gauge(
            "tollgate_gateway_breaker_state",
            callbacks=[self.observe],
            description="Circuit breaker per backend track: 0 closed, 1 half-open, 2 open",
        )

    def watch(self, backend: str, track: str, breaker: CircuitBreaker) -> None:
        self._breakers[(backend, track)] = breaker

    def forget(self, backend: str, track: str, breaker: CircuitBreaker) -> None:
        """Stop reporting this breaker (its router closed); another one since watched under
        the same labels stays."""
        if self._breakers.get((backend, track)) is breaker:
            del self._breakers[(backend, track)]

    def observe(self, _options: metrics.CallbackOptions) -> Iterable[metrics.Observation]:
        # Called on the exporter's thread: copy() is one C call, so a watch on the event loop
        # never changes the dict while it is read.
        return [
            metrics.Observation(BREAKER_LEVEL[breaker.state], {"backend": backend, "track": track})
            for (backend, track), breaker in self._breakers.copy().items()
        ]


@dataclass(frozen=True)
class GatewayInstruments:
    # backend, track, method; seconds
    call_duration: HeldHistogram
    # backend, track, method, code (a gRPC status name, or CIRCUIT_OPEN)
    calls: SummedCounter
    # backend, track: 0 closed, 1 half-open, 2 open
    breaker_states: BreakerStates
    # backend, step: an optimization skipped because its service failed (fail-open)
    fail_open: metrics.Counter
    # kind: ledger commit, exact store, ... (work after the answer that failed for good)
    background_failures: metrics.Counter
    # model: what answered requests cost (cache hits cost 0 and add nothing)
    cost_micros: SummedCounter
    # optimization: what each optimization took off the baseline (enforce mode only)
    saved_micros: SummedCounter
    # cache (exact, semantic), result (hit, miss, shadow_hit, skipped, ineligible)
    cache_lookups: SummedCounter
    # model, code: the outcome of each call to Claude as the orchestrator reported it
    upstream_responses: SummedCounter
    # model, outcome (charged, not_priced): streams that broke off after Claude began
    broken_streams: metrics.Counter
    # tenant, scope: spent / limit of the tightest budget after a hold
    budget_used: metrics._Gauge
    # outcome (agreed, disagreed, repeat, no_budget, failed): verifications of semantic hits
    semantic_verifications: metrics.Counter
    # tenant, task: the measured precision of the semantic cache, its lower bound, and whether
    # the tenant's cache for the task is in shadow (1) or serving (0)
    semantic_precision: metrics._Gauge
    semantic_precision_lower_bound: metrics._Gauge
    semantic_shadow: metrics._Gauge
    # route (template), method, status: requests to the HTTP front door
    http_requests: metrics.Counter
    # route, method; seconds
    http_duration: metrics.Histogram
    # outcome (ok, failed): reads of the ledger's managed-key changes
    key_directory_refreshes: metrics.Counter
    # seconds since the managed keys were last read from the ledger
    key_directory_staleness: metrics._Gauge
    key_directory_managed_keys: metrics._Gauge


@cache
def instruments() -> GatewayInstruments:
    meter = metrics.get_meter("tollgate")
    call_duration = HeldHistogram(
        meter.create_histogram(
            "tollgate_gateway_backend_call_duration_seconds",
            unit="s",
            description="Calls from the gateway to its backends, by backend, track and method",
            explicit_bucket_boundaries_advisory=list(CALL_SECONDS_BUCKETS),
        )
    )
    return GatewayInstruments(
        call_duration=call_duration,
        calls=SummedCounter(
            meter,
            "tollgate_gateway_backend_calls",
            description="Calls from the gateway to its backends, by outcome (gRPC status)",
            # The held call durations reach the histogram before each collection reads it.
            before_observe=call_duration.flush,
        ),
        breaker_states=BreakerStates(meter),
        fail_open=meter.create_counter(
            "tollgate_gateway_fail_open",
            description="Optimizations skipped because their service failed (fail-open)",
        ),
        background_failures=meter.create_counter(
            "tollgate_gateway_background_failures",
            description="Work after the answer (commits, stores) that failed for good, by kind",
        ),
        cost_micros=SummedCounter(
            meter,
            "tollgate_cost_micros",
            description="What answers cost in micro-dollars, by model",
        ),
        saved_micros=SummedCounter(
            meter,
            "tollgate_saved_micros",
            description="Micro-dollars each optimization saved against the baseline",
        ),
        cache_lookups=SummedCounter(
            meter,
            "tollgate_gateway_cache_lookups",
            description="Cache lookups as the gateway saw them, by cache and result",
        ),
        upstream_responses=SummedCounter(
            meter,
            "tollgate_upstream_responses",
            description="Calls to Claude through the orchestrator, by model and status code",
        ),
        broken_streams=meter.create_counter(
            "tollgate_gateway_broken_streams",
            description="Streams that broke off after Claude began, by model and outcome "
            "(charged for what was produced, or not_priced and released)",
        ),
        budget_used=meter.create_gauge(
            "tollgate_budget_used_ratio",
            description="Share of the tightest budget spent, after each hold, by tenant and scope",
        ),
        semantic_verifications=meter.create_counter(
            "tollgate_gateway_semantic_verifications",
            description="Semantic-cache hits the gateway verified against Claude, by outcome",
        ),
        semantic_precision=meter.create_gauge(
            "tollgate_semantic_precision",
            description="Measured precision of the semantic cache, by tenant and task",
        ),
        semantic_precision_lower_bound=meter.create_gauge(
            "tollgate_semantic_precision_lower_bound",
            description="Lower confidence bound of the semantic cache's measured precision",
        ),
        semantic_shadow=meter.create_gauge(
            "tollgate_semantic_shadow",
            description="1 while a tenant's semantic cache for a task is in shadow, else 0",
        ),
        http_requests=meter.create_counter(
            "tollgate_http_requests",
            description="HTTP front-door requests handled, by route, method and status",
        ),
        http_duration=seconds_histogram(
            meter,
            "tollgate_http_request_duration_seconds",
            "HTTP front-door request handling time, by route and method",
        ),
        key_directory_refreshes=meter.create_counter(
            "tollgate_gateway_key_directory_refreshes",
            description="Reads of the ledger's key changes",
        ),
        key_directory_staleness=meter.create_gauge(
            "tollgate_gateway_key_directory_staleness_seconds",
            description="Seconds since the managed keys were last read from the ledger",
        ),
        key_directory_managed_keys=meter.create_gauge(
            "tollgate_gateway_key_directory_managed_keys", description="Managed keys in force"
        ),
    )


def count_cache_lookup(cache: str, result: str) -> None:
    """One lookup of `cache` ("exact" or "semantic") and how it ended."""
    instruments().cache_lookups.add(1, {"cache": cache, "result": result})
