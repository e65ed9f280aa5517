"""The client side of the ``/_emulator`` control API (control_api.py), for tests, benchmarks and
scripts that steer an emulator running elsewhere."""

from __future__ import annotations

from typing import Any

import aiohttp


async def configure(base_url: str, patch: dict[str, Any]) -> None:
    """Patch the emulator's config (nested objects merge, lists replace); a patch the emulator
    refuses raises ``aiohttp.ClientResponseError`` with its reason."""
    async with (
        aiohttp.ClientSession(raise_for_status=True) as session,
        session.post(f"{base_url}/_emulator/config", json=patch),
    ):
        pass
