"""`tollgate keys` against a running suite: create (the secret printed once works), list, rotate
(the new secret works, the old one is refused), revoke; refusals come back as exit codes."""

from __future__ import annotations

import asyncio
import io

import pytest

from tests.conftest import API_KEY, TENANT_ADMIN_KEY, FullSuite
from tests.e2e.conftest import answers
from tollgate.cli.keys import run
from tollgate.cli.main import build_parser


async def _keys(suite: FullSuite, key: str, *arguments: str) -> tuple[int, str]:
    args = build_parser().parse_args(
        ["keys", "--gateway", suite.gateway.address, "--api-key", key, *arguments]
    )
    out = io.StringIO()
    # The CLI is synchronous: it runs in a thread while the servers answer in this loop.
    code = await asyncio.to_thread(run, args, out)
    return code, out.getvalue()


def _secret(output: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith("secret")]
    assert len(lines) == 1, output
    return lines[0].rsplit(" ", 1)[-1]


async def test_create_list_rotate_and_revoke(full_suite: FullSuite) -> None:
    code, created = await _keys(
        full_suite, TENANT_ADMIN_KEY, "create", "--name", "crm", "--rpm", "100",
        "--model", "claude-haiku-4-5", "--task", "chat", "--expires-in-days", "30",
    )  # fmt: skip
    assert code == 0, created
    secret = _secret(created)
    key_id = created.splitlines()[1].split()[0]
    assert key_id.startswith("key_")
    code, listing = await _keys(full_suite, TENANT_ADMIN_KEY, "list")
    assert code == 0
    assert key_id in listing
    assert "rpm=100" in listing
    assert "models=claude-haiku-4-5" in listing
    assert "tasks=chat" in listing
    assert secret not in listing

    code, rotated = await _keys(full_suite, TENANT_ADMIN_KEY, "rotate", key_id)
    assert code == 0, rotated
    new_secret = _secret(rotated)
    assert new_secret != secret
    code, revoked = await _keys(full_suite, TENANT_ADMIN_KEY, "revoke", key_id)
    assert code == 0
    assert "key_" in revoked
    code, listing = await _keys(full_suite, TENANT_ADMIN_KEY, "list")
    assert key_id not in listing
    code, listing = await _keys(full_suite, TENANT_ADMIN_KEY, "list", "--all")
    assert key_id in listing


async def test_a_new_key_works_and_a_rotation_replaces_its_secret(full_suite: FullSuite) -> None:
    code, created = await _keys(full_suite, TENANT_ADMIN_KEY, "create", "--name", "app")
    assert code == 0, created
    secret = _secret(created)
    key_id = created.splitlines()[1].split()[0]
    assert await answers(full_suite.gateway.address, secret)
    code, rotated = await _keys(full_suite, TENANT_ADMIN_KEY, "rotate", key_id)
    assert code == 0
    assert await answers(full_suite.gateway.address, _secret(rotated))
    assert not await answers(full_suite.gateway.address, secret)


@pytest.mark.parametrize(
    ("key", "arguments", "expected"),
    [
        (API_KEY, ("list",), 1),
        (TENANT_ADMIN_KEY, ("list", "--tenant", "globex"), 1),
        (TENANT_ADMIN_KEY, ("create", "--name", "x", "--task", "poetry"), 2),
        (TENANT_ADMIN_KEY, ("create", "--name", "x", "--expires-in-days", "-1"), 2),
        (TENANT_ADMIN_KEY, ("revoke", "key_nonexistent"), 1),
        ("", ("list",), 2),
    ],
)
async def test_refusals(
    full_suite: FullSuite, key: str, arguments: tuple[str, ...], expected: int
) -> None:
    code, _ = await _keys(full_suite, key, *arguments)
    assert code == expected
