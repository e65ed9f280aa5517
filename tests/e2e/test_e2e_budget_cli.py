"""`tollgate budget` against a running gateway: set, list and override a budget with an admin
key; an application key is refused; a scope that makes no sense is refused before any call."""

from __future__ import annotations

from tests.conftest import ADMIN_KEY, API_KEY, FullSuite
from tests.e2e.conftest import run_command
from tollgate.cli.budget import run


async def _budget(suite: FullSuite, key: str, *arguments: str) -> tuple[int, str]:
    return await run_command(suite, run, "budget", key, *arguments)


async def test_set_list_and_override_a_budget(full_suite: FullSuite) -> None:
    code, _ = await _budget(
        full_suite, ADMIN_KEY, "set", "--tenant", "acme", "--limit-micros", "5000000"
    )
    assert code == 0
    code, _ = await _budget(
        full_suite, ADMIN_KEY, "override", "--tenant", "acme", "--extra-micros", "250000",
        "--reason", "quarter-end campaign",
    )  # fmt: skip
    assert code == 0
    code, listing = await _budget(full_suite, ADMIN_KEY, "list", "--tenant", "acme")
    assert code == 0
    assert "tenant:acme" in listing
    assert "5,000,000" in listing
    assert "5,250,000" in listing  # remaining: the limit plus the override


async def test_refusals(full_suite: FullSuite) -> None:
    code, _ = await _budget(full_suite, API_KEY, "list", "--tenant", "acme")
    assert code == 1
    code, _ = await _budget(
        full_suite, ADMIN_KEY, "set", "--tenant", "acme", "--subject", "k1", "--limit-micros", "1"
    )
    assert code == 2
