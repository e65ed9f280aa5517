"""`tollgate agents` against a running gateway: an admin key puts, lists, gets and deletes a
profile; an application key reads but cannot write; bad input is refused with a sentence."""

from __future__ import annotations

import pytest

from tests.conftest import API_KEY, TENANT_ADMIN_KEY, FullSuite
from tests.e2e.conftest import run_command
from tollgate.cli.agents import run
from tollgate.cli.main import build_parser


async def _agents(suite: FullSuite, key: str, *arguments: str) -> tuple[int, str]:
    return await run_command(suite, run, "agents", key, *arguments)


async def test_put_list_get_and_delete_an_agent(full_suite: FullSuite) -> None:
    code, put = await _agents(
        full_suite, TENANT_ADMIN_KEY, "put", "maria", "--role", "buyers_agent",
        "--experience", "novice", "--specialization", "first-time buyers",
        "--specialization", "condos",
    )  # fmt: skip
    assert code == 0
    assert put.startswith("created maria")
    code, listing = await _agents(full_suite, API_KEY, "list")
    assert code == 0
    assert "maria" in listing
    assert "buyers_agent" in listing
    assert "first-time buyers, condos" in listing
    code, one = await _agents(full_suite, API_KEY, "get", "maria")
    assert code == 0
    assert "novice" in one
    code, deleted = await _agents(full_suite, TENANT_ADMIN_KEY, "delete", "maria")
    assert (code, deleted.strip()) == (0, "deleted maria")
    code, _ = await _agents(full_suite, API_KEY, "get", "maria")
    assert code == 1


async def test_refusals(full_suite: FullSuite, capsys: pytest.CaptureFixture[str]) -> None:
    code, _ = await _agents(
        full_suite, API_KEY, "put", "maria", "--role", "buyers_agent", "--experience", "novice"
    )
    assert code == 1
    assert "PERMISSION_DENIED" in capsys.readouterr().err
    code, _ = await _agents(
        full_suite, TENANT_ADMIN_KEY, "put", "maria", "--role", "buyers_agent",
        "--experience", "novice", "--specialization", "LUXURY",
    )  # fmt: skip
    assert code == 1
    assert "is not a specialization" in capsys.readouterr().err
    with pytest.raises(SystemExit):
        build_parser().parse_args(
            ["agents", "--gateway", "x:1", "put", "m", "--role", "boss", "--experience", "novice"]
        )
