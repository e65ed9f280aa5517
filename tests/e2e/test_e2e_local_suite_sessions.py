"""`tollgate run` (the local suite) keeps sessions: the gateway is given the Redis the exact cache
uses, so a second turn naming a session is answered with the first in its history. Variables given
to the suite (`extra_env`) reach its processes."""

from __future__ import annotations

import os

import psutil
import pytest

from tollgate.cli.local_suite import local_suite
from tollgate.client import TollgateClient
from tollgate.v1 import common_pb2, gateway_pb2

CACHE_REDIS = "TOLLGATE_CACHE_REDIS_URL"
SESSIONS_REDIS = "TOLLGATE_GATEWAY_SESSIONS_REDIS_URL"


def _environ(suite: object, name: str) -> dict[str, str]:
    (process,) = [p for p in suite.processes if p.name == name]  # type: ignore[attr-defined]
    return dict(psutil.Process(process.process.pid).environ())


@pytest.mark.timeout(300)
async def test_the_local_suite_keeps_sessions_in_the_caches_redis(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    # The emulator, never the real API; and the suite's own embedded Redis.
    for variable in ("ANTHROPIC_API_KEY", CACHE_REDIS, SESSIONS_REDIS):
        monkeypatch.delenv(variable, raising=False)
    mark = {"TOLLGATE_TEST_SUITE_MARK": "given"}
    async with local_suite(start_timeout=240, extra_env=mark) as suite:
        gateway_env, cache_env = _environ(suite, "gateway"), _environ(suite, "cache")
        # A variable given to the suite reaches its processes (and only them).
        assert gateway_env["TOLLGATE_TEST_SUITE_MARK"] == cache_env["TOLLGATE_TEST_SUITE_MARK"]
        assert gateway_env["TOLLGATE_TEST_SUITE_MARK"] == "given"
        assert "TOLLGATE_TEST_SUITE_MARK" not in os.environ
        assert gateway_env[SESSIONS_REDIS].startswith("redis://127.0.0.1:")
        assert gateway_env[SESSIONS_REDIS] == cache_env[CACHE_REDIS]
        async with TollgateClient(suite.gateway, suite.api_key) as client:
            for question in ("Is the house on Elm Street for sale?", "And its price?"):
                await client.complete(
                    messages=[{"role": "user", "content": question}],
                    max_tokens=50,
                    session_id="laptop-chat",
                )
            stored = await client.stub.GetSession(
                gateway_pb2.GetSessionRequest(session_id="laptop-chat"), metadata=client.metadata
            )
    roles = [m.role for m in stored.messages]
    assert roles == [common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT] * 2
    asked = [m.content[0].text.text for m in stored.messages if m.role == common_pb2.ROLE_USER]
    assert asked == ["Is the house on Elm Street for sale?", "And its price?"]
