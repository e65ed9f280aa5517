"""Canary Deployments and Services exist only when asked for, run their own image, and are wired
so that the gateway's weight is the only thing deciding their share of calls."""

from __future__ import annotations

from typing import Any

CANARIES = {"orchestrator": "0.2.0-rc.1", "cache": "0.2.0-rc.1", "semanticCache": "0.2.0-rc.2"}


def canary_objects(rendered: Any) -> list[str]:
    return sorted(
        f"{o['kind']}/{o['metadata']['name']}"
        for o in rendered.objects
        if o["metadata"]["name"].endswith("-canary")
        or o["metadata"].get("labels", {}).get("track") == "canary"
    )


def test_no_canary_objects_unless_enabled(helm: Any, value_set: str) -> None:
    rendered = helm.render(value_set)
    gateway_env = "".join(
        e["name"]
        for d in rendered.of_kind("Deployment")
        for e in d["spec"]["template"]["spec"]["containers"][0]["env"]
    )
    # The gateway always knows every backend's canary address (see the next test).
    assert "_CANARY_ADDR" in gateway_env
    if value_set == "canary":
        assert canary_objects(rendered)
    else:
        assert canary_objects(rendered) == []


def test_turning_a_backend_canary_on_or_off_does_not_restart_the_gateway(
    helm: Any, facts: Any
) -> None:
    def gateway_pods(rendered: Any) -> Any:
        return rendered.get("Deployment", facts.resource_name("gateway"))["spec"]["template"]

    off = helm.render("default")
    on = helm.render(
        "default",
        values={
            "services.orchestrator.canary": {
                "enabled": True,
                "weight": 10,
                "image": {"tag": "0.2.0"},
            }
        },
    )
    assert gateway_pods(on) == gateway_pods(off)
    flags = on.get("ConfigMap", f"{facts.fullname}-flags")["data"]["flags.yaml"]
    assert "canaryWeight: 10" in flags


def test_a_gateway_canary_shares_the_public_service_by_its_pods(helm: Any, facts: Any) -> None:
    rendered = helm.render(
        "default",
        values={
            "services.gateway.canary": {"enabled": True, "replicas": 1, "image": {"tag": "0.2.0"}}
        },
    )
    gateway = facts.resource_name("gateway")
    canary = rendered.get("Deployment", f"{gateway}-canary")
    assert canary["spec"]["template"]["spec"]["containers"][0]["image"].endswith(":0.2.0")
    assert canary["spec"]["template"]["metadata"]["labels"]["track"] == "canary"
    assert rendered.find("Service", f"{gateway}-canary") is None
    selector = rendered.get("Service", gateway)["spec"]["selector"]
    assert "track" not in selector
    assert all(
        canary["spec"]["template"]["metadata"]["labels"][k] == v for k, v in selector.items()
    )
    # A weight would be a promise nothing keeps: the gateway's share is its share of pods.
    error = helm.render_error(
        "default", values={"services.gateway.canary": {"enabled": True, "weight": 10}}
    )
    assert "weight" in error


def test_canary_value_set_renders_exactly_the_requested_canaries(helm: Any, facts: Any) -> None:
    rendered = helm.render("canary")
    expected = sorted(
        f"{kind}/{facts.resource_name(key)}-canary"
        for key in CANARIES
        for kind in ("Deployment", "Service")
    )
    assert canary_objects(rendered) == expected


def test_canary_runs_its_own_tag_and_replicas(helm: Any, facts: Any) -> None:
    rendered = helm.render("canary")
    for key, tag in CANARIES.items():
        name = facts.resource_name(key)
        stable = rendered.container("Deployment", name)
        canary = rendered.container("Deployment", f"{name}-canary")
        repository = stable["image"].rsplit(":", 1)[0]
        assert stable["image"] == f"{repository}:0.1.0"
        assert canary["image"] == f"{repository}:{tag}"
        # Same service, same settings: only the image (and resources when asked) differ.
        assert {k: v for k, v in canary.items() if k not in ("image", "env", "resources")} == {
            k: v for k, v in stable.items() if k not in ("image", "env", "resources")
        }
    assert (
        rendered.get("Deployment", f"{facts.resource_name('cache')}-canary")["spec"]["replicas"]
        == 2
    )
    semantic = rendered.container("Deployment", f"{facts.resource_name('semanticCache')}-canary")
    assert semantic["resources"]["limits"]["memory"] == "1536Mi"


def test_stable_and_canary_services_select_only_their_own_track(helm: Any, facts: Any) -> None:
    rendered = helm.render("canary")
    for key in CANARIES:
        name = facts.resource_name(key)
        for suffix, track in (("", "stable"), ("-canary", "canary")):
            service = rendered.get("Service", f"{name}{suffix}")
            pods = rendered.get("Deployment", f"{name}{suffix}")["spec"]["template"]["metadata"]
            assert service["spec"]["selector"]["track"] == track
            assert service["spec"]["selector"].items() <= pods["labels"].items()
            assert service["spec"]["clusterIP"] == "None"
            other = "canary" if track == "stable" else "stable"
            other_pods = rendered.get(
                "Deployment", name if track == "canary" else f"{name}-canary"
            )["spec"]["template"]["metadata"]["labels"]
            assert other_pods["track"] == other
            assert not service["spec"]["selector"].items() <= other_pods.items()


def test_gateway_knows_every_backends_canary_address(helm: Any, facts: Any) -> None:
    rendered = helm.render("canary")
    env = rendered.env("Deployment", facts.resource_name("gateway"))
    canary_addresses = {k: v for k, v in env.items() if k.endswith("_CANARY_ADDR")}
    assert canary_addresses == {
        f"TOLLGATE_GATEWAY_{module.upper()}_CANARY_ADDR": (
            f"dns:///{facts.resource_name(key)}-canary.{facts.namespace}.svc.cluster.local:{port}"
        )
        for key, (module, port) in facts.services.items()
        if key != "gateway"
    }


def test_enabling_a_canary_without_its_image_is_refused(helm: Any) -> None:
    error = helm.render_error("default", values={"services.orchestrator.canary.enabled": True})
    assert "set services.orchestrator.canary.image.tag" in error
