"""The Grafana dashboard and the runbook query only metrics a running suite exports, with the
labels they group and filter by.

The whole suite runs in this process (gateway, orchestrator, caches, ledger, optimizer, lead
scoring) against the emulator, real Redis, Postgres and the in-process vector engine; a small
workload goes through the gateway; then /metrics is scraped over HTTP and every query of the
dashboard and every metric of the runbook's table is checked against what it served.
"""

from __future__ import annotations

import asyncio
import json
import re
import urllib.request
from collections.abc import Iterator
from copy import deepcopy
from pathlib import Path
from typing import Any

import prometheus_client
import pytest
from prometheus_client.parser import text_string_to_metric_families

from tests.conftest import ADMIN_KEY, ALL_ON, running_full_suite
from tollgate.client import TollgateError
from tollgate.emulator import EmulatorServer
from tollgate.emulator.config import FaultKind, ScriptedFault
from tollgate.v1 import budget_ledger_pb2, gateway_pb2

REPO = Path(__file__).resolve().parents[2]
DASHBOARD = REPO / "deploy/helm/tollgate/dashboards/tollgate-overview.json"
RUNBOOK = REPO / "docs/operations.md"
ALERT_RULES = REPO / "deploy/helm/tollgate/templates/prometheusrule.yaml"
METRIC = re.compile(r"\btollgate_[a-z_]+\b")
FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["semantic_cache"] = {"enabled": True, "rolloutPercent": 100, "mode": "enforce"}
FLAGS["flags"]["conversation_optimization"] = {
    "enabled": True,
    "rolloutPercent": 100,
    "mode": "enforce",
}


def _ask(question: str) -> dict[str, Any]:
    return {
        "model": "claude-sonnet-5-5",
        "system": "You are the assistant of a real-estate CRM.",
        "messages": [{"role": "user", "content": question}],
        "max_tokens": 300,
        "temperature": 0.0,
    }


def dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]
    for variable in dashboard.get("templating", {}).get("list", []):
        query = variable.get("query")
        if isinstance(query, dict):
            query = query.get("query")
        if isinstance(query, str) and METRIC.search(query):
            queries.append(query)
    return queries


def scrape(text: str) -> dict[str, set[str]]:
    """Sample name (with _total, _bucket, ...) -> the label names its samples carry."""
    labels: dict[str, set[str]] = {}
    for family in text_string_to_metric_families(text):
        for sample in family.samples:
            labels.setdefault(sample.name, set()).update(sample.labels)
    return labels


def grouped_and_filtered_labels(query: str) -> Iterator[str]:
    for group in re.findall(r"\b(?:by|without) \(([^)]*)\)", query):
        yield from (name.strip() for name in group.split(",") if name.strip())
    for matcher in re.findall(r"\{([^}]*)\}", query):
        yield from re.findall(r"(\w+)\s*(?:=~|!~|!=|=)", matcher)
    yield from re.findall(r"label_values\(\s*\w+\s*,\s*(\w+)\s*\)", query)


async def _workload(suite: Any) -> None:
    async with suite.client(ADMIN_KEY) as admin:
        budget = budget_ledger_pb2.Budget(
            scope=budget_ledger_pb2.BudgetScope(
                kind=budget_ledger_pb2.SCOPE_KIND_TENANT, tenant_id="acme"
            ),
            period=budget_ledger_pb2.BUDGET_PERIOD_MONTH,
            limit_micros=50_000_000,
        )
        await admin.stub.SetBudget(
            gateway_pb2.SetBudgetRequest(budget=budget), metadata=admin.metadata
        )
    async with suite.client() as client:
        question = "What documents do I need to get pre-approved for a mortgage?"
        await client.complete(**_ask(question))
        await suite.settled()
        await client.complete(**_ask(question))  # exact hit
        await client.complete(**_ask("Which documents are needed to get pre-approved?"))
        stream = client.stream(**_ask("How long does a home inspection take?"))
        async for _event in stream:
            pass
        # Claude's side breaks a stream mid-answer: charged for what it had produced.
        suite.emulator.config.fault_script.append(ScriptedFault(FaultKind.STREAM_ERROR))
        with pytest.raises(TollgateError):
            await client.stream(**_ask("Describe the backyard at 4 Elm Street.")).text()
        await suite.settled()
        # Optimization services go down: the gateway answers without them (fail-open), and
        # storing the answer in the semantic cache fails after the answer (background failure).
        await suite.servers["conversation_optimizer"].stop(grace=0)
        await suite.servers["semantic_cache"].stop(grace=0)
        await client.complete(**_ask("Is a radon test part of the inspection?"))
        await suite.settled()


async def test_dashboard_and_runbook_query_only_what_the_suite_exports(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    async with running_full_suite(
        emulator,
        tmp_path,
        redis_url,
        redis_namespace,
        postgres_dsn,
        FLAGS,
        with_semantic_cache=True,
        semantic_cache_timeout_seconds=10.0,
    ) as suite:
        await _workload(suite)
        server, thread = prometheus_client.start_http_server(0, addr="127.0.0.1")
        try:
            url = f"http://127.0.0.1:{server.server_port}/metrics"
            text = await asyncio.to_thread(
                lambda: urllib.request.urlopen(url, timeout=10).read().decode()
            )
        finally:
            server.shutdown()
            server.server_close()
            thread.join(timeout=5)
    exported = scrape(text)

    problems = []
    for query in dashboard_queries():
        metrics = set(METRIC.findall(query))
        missing = metrics - set(exported)
        if missing:
            problems.append(f"{query}: not exported {sorted(missing)}")
            continue
        labels = set().union(*(exported[m] for m in metrics)) | {"le"}
        unknown = set(grouped_and_filtered_labels(query)) - labels
        if unknown:
            problems.append(f"{query}: labels {sorted(unknown)} not on {sorted(metrics)}")
    assert problems == [], "\n".join(problems) + "\nexported: " + " ".join(sorted(exported))

    suffixes = ("", "_total", "_bucket", "_count", "_sum")
    for document in (RUNBOOK, ALERT_RULES):
        named = set(METRIC.findall(document.read_text()))
        assert named, f"{document.name} names no metric"
        absent = {m for m in named if not any(m + s in exported for s in suffixes)}
        assert absent == set(), f"{document.name} names metrics nothing exports"

    # The workload moved the money metrics: cost, savings by optimization, budget use.
    assert {"tollgate_cost_micros_total", "tollgate_saved_micros_total"} <= set(exported)
    assert "optimization" in exported["tollgate_saved_micros_total"]
    assert {"tenant", "scope"} <= exported["tollgate_budget_used_ratio"]


def histogram_quantile(quantile: float, buckets: dict[float, float]) -> float:
    """Prometheus's histogram_quantile over cumulative bucket counts (upper bound -> count):
    linear interpolation inside the bucket where the rank falls."""
    bounds = sorted(buckets)
    total = buckets[float("inf")]
    rank = quantile * total
    lower, below = 0.0, 0.0
    for bound in bounds:
        if buckets[bound] >= rank:
            if bound == float("inf"):
                return lower
            inside = buckets[bound] - below
            return lower + (bound - lower) * ((rank - below) / inside if inside else 1.0)
        lower, below = bound, buckets[bound]
    return lower


async def test_the_latency_panels_read_real_percentiles(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    """The p50/p95/p99 panels compute histogram_quantile over tollgate_rpc_duration_seconds by
    service. With buckets in the unit recorded, they agree with the mean the same histogram
    gives; with the SDK's millisecond defaults every call fell in le="5" and the panels read
    2.5/4.75/4.95 s whatever the real latency (a gateway mean of 37 ms at the time)."""
    panels = [q for q in dashboard_queries() if q.startswith("histogram_quantile(")]
    assert {float(q.split("(")[1].split(",")[0]) for q in panels} == {0.5, 0.95, 0.99}
    async with running_full_suite(
        emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, FLAGS
    ) as suite:
        async with suite.client() as client:
            for index in range(12):
                await client.complete(**_ask(f"Which listings on Elm Street have {index} beds?"))
        await suite.settled()
    buckets: dict[float, float] = {}
    total_seconds = count = 0.0
    for family in prometheus_client.REGISTRY.collect():
        for sample in family.samples:
            if sample.labels.get("service") != "gateway":
                continue
            if sample.name == "tollgate_rpc_duration_seconds_bucket":
                bound = float(sample.labels["le"])
                buckets[bound] = buckets.get(bound, 0.0) + sample.value
            elif sample.name == "tollgate_rpc_duration_seconds_sum":
                total_seconds += sample.value
            elif sample.name == "tollgate_rpc_duration_seconds_count":
                count += sample.value
    assert count >= 12
    mean = total_seconds / count
    p50, p95, p99 = (histogram_quantile(q, buckets) for q in (0.5, 0.95, 0.99))
    assert 0 < p50 <= p95 <= p99
    # A median within a bucket's width of the mean (buckets step by at most 2.5x), not pinned
    # at the middle of a 5-second bucket.
    assert p50 <= 3 * mean
    assert min(b for b in buckets if buckets[b] > 0) <= max(3 * mean, 0.0005)
