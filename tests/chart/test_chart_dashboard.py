"""The Grafana dashboard ships as a ConfigMap for the sidecar and covers what operators watch.
That it queries only metrics the services export is checked against a running suite's /metrics
in tests/e2e/test_e2e_dashboard_metrics.py."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

METRIC = re.compile(r"\btollgate_[a-z_]+\b")


@pytest.fixture(scope="module")
def dashboard(default_render: Any, facts: Any) -> dict[str, Any]:
    configmap = default_render.get("ConfigMap", f"{facts.fullname}-dashboard")
    assert configmap["metadata"]["labels"]["grafana_dashboard"] == "1"
    return dict(json.loads(configmap["data"]["tollgate-overview.json"]))


def expressions(dashboard: dict[str, Any]) -> list[str]:
    return [t["expr"] for p in dashboard["panels"] for t in p.get("targets", [])]


def test_dashboard_in_configmap_equals_the_source_file(
    dashboard: dict[str, Any], facts: Any
) -> None:
    source = facts.chart / "dashboards" / "tollgate-overview.json"
    assert dashboard == json.loads(source.read_text())
    assert dashboard["uid"] == "tollgate-overview"


def test_panels_cover_what_operators_watch(dashboard: dict[str, Any]) -> None:
    titles = " | ".join(p["title"].lower() for p in dashboard["panels"])
    for topic in ("spent", "saved", "savings", "hit rate", "latency", "429", "budget use"):
        assert topic in titles, topic
    # Money is counted in micro-dollars and shown in dollars.
    dollar_panels = [
        p
        for p in dashboard["panels"]
        if p.get("fieldConfig", {}).get("defaults", {}).get("unit") == "currencyUSD"
    ]
    assert len(dollar_panels) >= 4
    for panel in dollar_panels:
        for target in panel["targets"]:
            assert "_micros_total" in target["expr"], panel["title"]
            assert target["expr"].endswith("/ 1e6"), panel["title"]


def test_panels_have_unique_ids_and_a_templated_datasource(dashboard: dict[str, Any]) -> None:
    ids = [p["id"] for p in dashboard["panels"]]
    assert len(ids) == len(set(ids))
    variables = {v["name"]: v for v in dashboard["templating"]["list"]}
    assert variables["datasource"]["type"] == "datasource"
    assert variables["datasource"]["query"] == "prometheus"
    for panel in dashboard["panels"]:
        if panel["type"] != "row":
            assert panel["datasource"] == {"type": "prometheus", "uid": "${datasource}"}, panel[
                "title"
            ]


def test_dashboard_can_go_to_the_grafana_namespace(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values={"dashboard.namespace": "grafana"})
    configmap = rendered.get("ConfigMap", f"{facts.fullname}-dashboard")
    assert configmap["metadata"]["namespace"] == "grafana"
    off = helm.render("default", values={"dashboard.enabled": False})
    assert off.find("ConfigMap", f"{facts.fullname}-dashboard") is None
