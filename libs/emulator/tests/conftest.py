"""Fixtures: a fresh emulator per test on a free port, and the official SDK pointed at it."""

from __future__ import annotations

from collections.abc import AsyncIterator, Callable

import anthropic
import pytest

from tollgate.emulator import EmulatorConfig, EmulatorServer, ManualClock


@pytest.fixture
def config() -> EmulatorConfig:
    return EmulatorConfig()


@pytest.fixture
def clock() -> ManualClock:
    return ManualClock()


@pytest.fixture
async def server(config: EmulatorConfig, clock: ManualClock) -> AsyncIterator[EmulatorServer]:
    async with EmulatorServer(config=config, clock=clock) as running:
        yield running


@pytest.fixture
async def client(server: EmulatorServer) -> AsyncIterator[anthropic.AsyncAnthropic]:
    async with anthropic.AsyncAnthropic(
        base_url=server.base_url, api_key="test-key", max_retries=0
    ) as sdk:
        yield sdk


@pytest.fixture
def long_notes() -> Callable[[int], str]:
    """CRM-style text of at least `min_tokens` tokens, for prompt-cache thresholds."""
    from tollgate.emulator import count_text_tokens

    def make(min_tokens: int) -> str:
        lines: list[str] = []
        i = 0
        while count_text_tokens("\n".join(lines)) < min_tokens:
            lines.append(
                f"Lead {i}: wants a two-bedroom condo near Lakeview, budget ${400 + i}k, "
                "pre-approved, prefers weekend showings."
            )
            i += 1
        return "\n".join(lines)

    return make
