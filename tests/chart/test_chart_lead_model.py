"""A conversion model trained on one's own data is mounted from Helm values, and lead scoring
started the way the rendered Deployment starts it serves exactly that model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import grpc

from tollgate.common.testing import serving
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings
from tollgate.lead_scoring.synthetic import write_synthetic_csv
from tollgate.lead_scoring.training import train
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc

DEPLOYMENT = "tg-tollgate-lead-scoring"
PREFIX = "TOLLGATE_LEAD_SCORING_"


def _trained_model(tmp_path: Path) -> tuple[str, str]:
    """(model JSON, version) of a model fitted on a CSV of raw events."""
    data, out = tmp_path / "events.csv", tmp_path / "model.json"
    write_synthetic_csv(data, rows=400, seed=21)
    report = train(data, out)
    return out.read_text(encoding="utf-8"), report.model.version


def _pod_files(rendered: Any, root: Path) -> dict[str, str]:
    """Lays the Deployment's ConfigMap volumes out under `root` as the kubelet would, and
    returns the container's environment with paths moved under `root`."""
    pod = rendered.get("Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    container = pod["containers"][0]
    volumes = {v["name"]: v for v in pod["volumes"]}
    for mount in container["volumeMounts"]:
        source = volumes[mount["name"]].get("configMap")
        if source is None:
            continue
        data = rendered.get("ConfigMap", source["name"])["data"]
        for item in source["items"]:
            target = root / mount["mountPath"].lstrip("/") / item["path"]
            target.parent.mkdir(parents=True, exist_ok=True)
            target.write_text(data[item["key"]], encoding="utf-8")
    env = rendered.env("Deployment", DEPLOYMENT)
    model_file = f"{PREFIX}MODEL_FILE"
    if model_file in env:
        env[model_file] = str(root / env[model_file].lstrip("/"))
    return env


async def test_the_chart_serves_the_trained_model(helm: Any, tmp_path: Path) -> None:
    model_json, version = _trained_model(tmp_path)
    rendered = helm.render("default", values={"services.leadScoring.model.json": model_json})
    config_map = rendered.get("ConfigMap", "tg-tollgate-lead-scoring-model")
    assert json.loads(config_map["data"]["model.json"])["version"] == version
    assert config_map["metadata"]["annotations"]["tollgate.dev/model-version"] == version
    annotations = rendered.get("Deployment", DEPLOYMENT)["spec"]["template"]["metadata"][
        "annotations"
    ]
    assert "checksum/lead-model" in annotations
    env = _pod_files(rendered, tmp_path / "pod")
    assert env[f"{PREFIX}MODEL_FILE"].endswith("/etc/tollgate/lead-model/model.json")
    settings = Settings(
        host="127.0.0.1", port=0, model_file=env[f"{PREFIX}MODEL_FILE"], orchestrator_addr="x:1"
    )
    request = lead_scoring_pb2.ComputeLeadScoreRequest(
        context=common_pb2.RequestContext(tenant_id="acme"),
        lead=lead_scoring_pb2.Lead(profile=lead_scoring_pb2.LeadProfile(lead_id="lead-1")),
    )
    async with (
        serving(await build_service(settings), settings) as running,
        grpc.aio.insecure_channel(running.address) as channel,
    ):
        reply = await lead_scoring_pb2_grpc.LeadScoringServiceStub(channel).ComputeLeadScore(
            request
        )
    assert reply.score.model_version == version
    assert not reply.score.model_trained_on_synthetic_data


def test_a_model_in_a_configmap_you_manage_is_mounted(helm: Any) -> None:
    rendered = helm.render(
        "default",
        values={
            "services.leadScoring.model.existingConfigMap": "our-lead-model",
            "services.leadScoring.model.existingConfigMapKey": "model-2026-12.json",
        },
    )
    pod = rendered.get("Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    volume = next(v for v in pod["volumes"] if v["name"] == "lead-model")
    assert volume["configMap"] == {
        "name": "our-lead-model",
        "items": [{"key": "model-2026-12.json", "path": "model.json"}],
    }
    assert rendered.find("ConfigMap", "tg-tollgate-lead-scoring-model") is None


def test_without_a_model_the_shipped_one_is_used_and_pii_settings_render(helm: Any) -> None:
    rendered = helm.render(
        "default", values={"services.leadScoring.pii.fields": ["spouse", "ssn_last4"]}
    )
    env = rendered.env("Deployment", DEPLOYMENT)
    assert f"{PREFIX}MODEL_FILE" not in env
    assert json.loads(env[f"{PREFIX}PII_FIELDS"]) == ["spouse", "ssn_last4"]
    pod = rendered.get("Deployment", DEPLOYMENT)["spec"]["template"]["spec"]
    assert all(v["name"] != "lead-model" for v in pod["volumes"])


def test_bad_model_values_are_refused(helm: Any) -> None:
    both = helm.render_error(
        "default",
        values={
            "services.leadScoring.model.json": '{"version": "x"}',
            "services.leadScoring.model.existingConfigMap": "ours",
        },
    )
    assert "set json or existingConfigMap, not both" in both
    not_a_model = helm.render_error(
        "default", values={"services.leadScoring.model.json": "version: 1"}
    )
    assert "is not a lead scoring model" in not_a_model
