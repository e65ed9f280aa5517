"""The transport under the SDK's HTTP client."""

from __future__ import annotations

from anthropic._vendor.httpx_aiohttp import AiohttpTransport

from tollgate.orchestrator.http_tracing import upstream_transport


def test_the_sdk_runs_over_aiohttp_when_the_sdk_ships_it() -> None:
    # Guards the CPU cut: an SDK upgrade that moved the transport would fall back silently.
    assert isinstance(upstream_transport(), AiohttpTransport)
