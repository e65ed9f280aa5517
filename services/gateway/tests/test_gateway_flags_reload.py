"""The flags file and the ConfigMap watch change a running gateway's flags without a restart; an
invalid file keeps the last good config."""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncIterator
from pathlib import Path

import pytest
from aiohttp import web

from tollgate.gateway.configmap_watch import ConfigMapWatch
from tollgate.gateway.flags import FlagsSource

ON = "version: 1\nflags:\n  exact_cache: {enabled: true, rolloutPercent: 100}\n"
OFF = "version: 1\nflags:\n  exact_cache: {enabled: false, rolloutPercent: 100}\n"


async def _wait_until(condition, timeout: float) -> float:  # type: ignore[no-untyped-def]
    started = time.monotonic()
    while not condition():
        if time.monotonic() - started > timeout:
            raise AssertionError(f"not within {timeout}s")
        await asyncio.sleep(0.02)
    return time.monotonic() - started


async def test_a_changed_file_takes_effect_and_an_invalid_one_is_refused(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    path = tmp_path / "flags.yaml"
    path.write_text(OFF)
    source = FlagsSource(str(path), poll_seconds=0.1)
    await source.start()
    try:
        assert not source.config.flag("exact_cache").enabled
        path.write_text(ON)
        await _wait_until(lambda: source.config.flag("exact_cache").enabled, timeout=5)
        path.write_text("version: 1\nflags:\n  exact_cache: {rolloutPercent: 150}\n")
        await asyncio.sleep(0.5)
        assert source.config.flag("exact_cache").enabled
        assert "refused new flags from file" in caplog.text
        assert "less than or equal to 100" in caplog.text
    finally:
        await source.stop()


class FakeKubernetesApi:
    """The few endpoints of the Kubernetes API the watch uses: list and watch ConfigMaps."""

    def __init__(self) -> None:
        self.data = {"flags.yaml": OFF}
        self.version = 1
        self.changed = asyncio.Event()
        self.closing = False

    def configmap(self) -> dict[str, object]:
        return {
            "apiVersion": "v1",
            "kind": "ConfigMap",
            "metadata": {
                "name": "tollgate-flags",
                "namespace": "tollgate",
                "resourceVersion": str(self.version),
            },
            "data": self.data,
        }

    async def handle(self, request: web.Request) -> web.StreamResponse:
        if request.query.get("watch") not in ("true", "1"):
            return web.json_response(
                {
                    "apiVersion": "v1",
                    "kind": "ConfigMapList",
                    "metadata": {"resourceVersion": str(self.version)},
                    "items": [self.configmap()],
                }
            )
        response = web.StreamResponse()
        await response.prepare(request)
        await response.write(
            json.dumps({"type": "ADDED", "object": self.configmap()}).encode() + b"\n"
        )
        while True:
            await self.changed.wait()
            self.changed.clear()
            if self.closing:
                return response
            event = {"type": "MODIFIED", "object": self.configmap()}
            await response.write(json.dumps(event).encode() + b"\n")

    def update(self, text: str) -> None:
        self.data = {"flags.yaml": text}
        self.version += 1
        self.changed.set()


@pytest.fixture
async def fake_api() -> AsyncIterator[tuple[FakeKubernetesApi, str]]:
    api = FakeKubernetesApi()
    app = web.Application()
    app.router.add_get("/api/v1/namespaces/{namespace}/configmaps", api.handle)
    runner = web.AppRunner(app)
    await runner.setup()
    site = web.TCPSite(runner, "127.0.0.1", 0)
    await site.start()
    port = site._server.sockets[0].getsockname()[1]  # type: ignore[union-attr]
    yield api, f"http://127.0.0.1:{port}"
    api.closing = True
    api.changed.set()
    await runner.cleanup()


async def test_a_configmap_change_seen_through_the_watch_applies_within_a_second(
    fake_api: tuple[FakeKubernetesApi, str], tmp_path: Path
) -> None:
    from kubernetes import client

    api, url = fake_api
    configuration = client.Configuration()
    configuration.host = url
    path = tmp_path / "flags.yaml"
    path.write_text(OFF)
    # The mounted file is slow to follow (as with the kubelet's sync); the watch is not.
    source = FlagsSource(str(path), poll_seconds=30)
    await source.start()
    watch = ConfigMapWatch(
        "tollgate",
        "tollgate-flags",
        "flags.yaml",
        source.apply_text,
        api_client=client.ApiClient(configuration),
    )
    await watch.start()
    try:
        # The first sync includes the watch thread's first use of the Kubernetes client, which
        # imports hundreds of model classes (seconds on a busy machine); the promise timed below
        # is how fast a change applies once the watch is up.
        await _wait_until(lambda: "configmap" in source._seen, timeout=30)
        api.update(ON)
        elapsed = await _wait_until(lambda: source.config.flag("exact_cache").enabled, timeout=1.0)
        assert elapsed < 1.0
        # A later file poll that still has the old text does not revert the change.
        source.load()
        assert source.config.flag("exact_cache").enabled
    finally:
        await watch.stop()
        await source.stop()
