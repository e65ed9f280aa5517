"""The transport under the SDK's HTTP client."""

from __future__ import annotations

from importlib import metadata

from anthropic._vendor.httpx_aiohttp import AiohttpTransport
from packaging.requirements import Requirement

from tollgate.orchestrator.http_tracing import upstream_transport


def test_the_sdk_runs_over_aiohttp_when_the_sdk_ships_it() -> None:
    # Guards the CPU cut: an SDK upgrade that moved the transport would fall back silently.
    assert isinstance(upstream_transport(), AiohttpTransport)


def test_the_orchestrator_package_asks_for_the_sdks_aiohttp_transport() -> None:
    # The workspace has aiohttp through other packages; an image installs only this package's
    # own dependencies, so it must ask for the SDK's aiohttp extra itself.
    requirements = [Requirement(line) for line in metadata.requires("tollgate-orchestrator") or []]
    (sdk,) = [r for r in requirements if r.name == "anthropic"]
    assert "aiohttp" in sdk.extras
