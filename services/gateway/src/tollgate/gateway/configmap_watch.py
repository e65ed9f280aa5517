"""Watches the gateway's flags ConfigMap through the Kubernetes API, so a kill switch applies at
once instead of after the kubelet's volume sync (up to a minute or more).

Needs `get`, `list` and `watch` on that ConfigMap (the chart's Role grants exactly that). When the
API is unreachable the gateway keeps following the mounted file; this watch retries with backoff.
"""

from __future__ import annotations

import asyncio
import logging
import threading
from collections.abc import Callable
from typing import Any

log = logging.getLogger("tollgate.gateway.configmap")


class ConfigMapWatch:
    def __init__(
        self,
        namespace: str,
        name: str,
        key: str,
        on_text: Callable[[str, str], object],
        origin: str = "configmap",
        api_client: Any = None,
    ) -> None:
        self._namespace = namespace
        self._name = name
        self._key = key
        self._on_text = on_text
        self._origin = origin
        self._api_client = api_client
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    async def start(self) -> None:
        loop = asyncio.get_running_loop()
        self._thread = threading.Thread(
            target=self._run, args=(loop,), name="flags-configmap-watch", daemon=True
        )
        self._thread.start()

    async def stop(self) -> None:
        self._stopping.set()

    def _client(self) -> Any:
        from kubernetes import client, config

        if self._api_client is None:
            config.load_incluster_config()
            self._api_client = client.ApiClient()
        return client.CoreV1Api(self._api_client)

    def _run(self, loop: asyncio.AbstractEventLoop) -> None:
        from kubernetes import watch

        backoff = 0.5
        while not self._stopping.is_set():
            try:
                api = self._client()
                stream = watch.Watch().stream(
                    api.list_namespaced_config_map,
                    namespace=self._namespace,
                    field_selector=f"metadata.name={self._name}",
                    timeout_seconds=60,
                )
                for event in stream:
                    if self._stopping.is_set():
                        return
                    self._deliver(loop, event)
                    backoff = 0.5
            except Exception as exc:  # the API may be down; the mounted file still applies
                log.warning("flags ConfigMap watch failed (%s); retrying in %.1fs", exc, backoff)
                self._stopping.wait(backoff)
                backoff = min(backoff * 2, 30.0)

    def _deliver(self, loop: asyncio.AbstractEventLoop, event: dict[str, Any]) -> None:
        kind = event.get("type")
        if kind == "DELETED":
            # A deleted overrides ConfigMap means no overrides; a deleted base keeps the last
            # good config (the mounted file decides).
            if self._origin.startswith("overrides"):
                loop.call_soon_threadsafe(self._on_text, "", self._origin)
            return
        if kind not in ("ADDED", "MODIFIED"):
            return
        data = getattr(event["object"], "data", None) or {}
        text = data.get(self._key)
        if text is not None:
            loop.call_soon_threadsafe(self._on_text, text, self._origin)
