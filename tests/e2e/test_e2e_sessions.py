"""Sessions end to end against the emulator: a 30-turn conversation sent turn by turn costs no
more than resending the history and gets the same answers; concurrent turns of one session run
one at a time; fork and delete; and no tenant reaches another's session."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable
from contextlib import AbstractAsyncContextManager
from copy import deepcopy
from dataclasses import dataclass, field
from typing import Any

import grpc
import httpx
import pytest
import redis.asyncio as aioredis

from tests.conftest import ALL_ON, API_KEY, OTHER_TENANT_KEY, FullSuite
from tollgate.client import TollgateClient, TollgateError
from tollgate.gateway.rate_limit import RateLimits
from tollgate.v1 import common_pb2, gateway_pb2

SYSTEM = (
    "You are the assistant of Harbor Realty. Answer briefly, quote only listed prices and offer "
    "a viewing within three working days. "
) * 40
QUESTIONS = [
    f"Question {n}: what about the {topic} of the house on Elm Street?"
    for n, topic in enumerate(
        ["roof", "garden", "school district", "heating", "price", "taxes"] * 5, start=1
    )
]
FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["conversation_optimization"] = {
    "enabled": True,
    "rolloutPercent": 100,
    "mode": "enforce",
}


@pytest.fixture
async def suite(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
    redis_url: str,
    redis_namespace: str,
) -> AsyncIterator[FullSuite]:
    async with start_door(
        FLAGS,
        sessions_redis_url=redis_url,
        sessions_key_prefix=f"{redis_namespace}:sessions",
        # The comparison needs the optimizer every time: on a busy machine its production
        # deadline would let some turns go unoptimized (fail open) in one run and not the other.
        conversation_optimizer_timeout_seconds=10.0,
    ) as running:
        yield running


def _text(result: Any) -> str:
    return "".join(block.text.text for block in result.response.content)


@dataclass
class Run:
    answers: list[str] = field(default_factory=list)
    cost_micros: int = 0
    # What the client sent the gateway, serialized.
    sent_bytes: int = 0

    async def ask(self, client: TollgateClient, **arguments: Any) -> str:
        self.sent_bytes += TollgateClient.completion(**arguments).ByteSize()
        result = await client.complete(**arguments)
        self.answers.append(_text(result))
        self.cost_micros += result.account.cost.total_micros
        return self.answers[-1]


async def _resend_history(client: TollgateClient) -> Run:
    run, history = Run(), []
    for question in QUESTIONS:
        history.append({"role": "user", "content": question})
        answer = await run.ask(
            client, system=SYSTEM, messages=list(history), max_tokens=120, temperature=0
        )
        history.append({"role": "assistant", "content": answer})
    return run


async def _turn_by_turn(client: TollgateClient, session: str) -> Run:
    run = Run()
    for question in QUESTIONS:
        await run.ask(
            client,
            system=SYSTEM,
            messages=[{"role": "user", "content": question}],
            max_tokens=120,
            temperature=0,
            session_id=session,
        )
    return run


async def test_thirty_turns_cost_no_more_than_resending_history_with_the_same_answers(
    suite: FullSuite,
) -> None:
    # Two tenants, so the second run cannot be answered from the first run's exact cache; the
    # emulator forgets its prompt cache between the runs, so each starts cold.
    async with suite.client(API_KEY) as client:
        resent = await _resend_history(client)
    await suite.settled()
    resent_bodies = [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"]
    suite.emulator.reset()
    async with suite.client(OTHER_TENANT_KEY) as client:
        session = await _turn_by_turn(client, "chat-elm-street")
    await suite.settled()
    session_bodies = [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"]

    assert session.answers == resent.answers
    assert len(session_bodies) == len(resent_bodies) == 30
    # Claude is sent exactly what the resending client made it send.
    assert [b["messages"] for b in session_bodies] == [b["messages"] for b in resent_bodies]
    assert session.cost_micros <= resent.cost_micros
    print(
        f"\n30 turns   cost µ$   client bytes sent\n"
        f"resend     {resent.cost_micros:>8,}   {resent.sent_bytes:>10,}\n"
        f"session    {session.cost_micros:>8,}   {session.sent_bytes:>10,}"
    )

    async with suite.client(OTHER_TENANT_KEY) as client:
        stored = await client.stub.GetSession(
            gateway_pb2.GetSessionRequest(session_id="chat-elm-street"), metadata=client.metadata
        )
    assert len(stored.messages) == 60
    assert [m.content[0].text.text for m in stored.messages[1::2]] == resent.answers


async def test_concurrent_turns_of_one_session_are_ordered_never_interleaved(
    suite: FullSuite,
) -> None:
    async with suite.client() as client:
        results = await asyncio.gather(
            *(
                client.complete(
                    system=SYSTEM,
                    messages=[{"role": "user", "content": question}],
                    max_tokens=60,
                    temperature=0,
                    session_id="busy",
                )
                for question in QUESTIONS[:6]
            )
        )
        stored = await client.stub.GetSession(
            gateway_pb2.GetSessionRequest(session_id="busy"), metadata=client.metadata
        )
    await suite.settled()
    bodies = [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"]
    # Each turn was sent with every earlier turn and answer, and nothing else.
    assert sorted(len(body["messages"]) for body in bodies) == [1, 3, 5, 7, 9, 11]
    messages = stored.messages
    assert len(messages) == 12
    stored_questions = [m.content[0].text.text for m in messages[0::2]]
    for body in bodies:
        # The optimizer condenses old answers but keeps the user's words: the questions sent
        # are the stored ones, in the stored order, with none missing or from elsewhere.
        sent = [m for m in body["messages"] if m["role"] == "user"]
        texts = [m["content"] if isinstance(m["content"], str) else m["content"][0]["text"]
                 for m in sent]  # fmt: skip
        assert texts == stored_questions[: len(texts)]
    assert {_text(r) for r in results} == {m.content[0].text.text for m in messages[1::2]}


async def test_fork_delete_and_tenant_isolation(
    suite: FullSuite, redis_url: str, redis_namespace: str
) -> None:
    async with suite.client() as acme, suite.client(OTHER_TENANT_KEY) as globex:
        for question in QUESTIONS[:2]:
            await acme.complete(
                system=SYSTEM,
                messages=[{"role": "user", "content": question}],
                # Room for a whole answer: one cut short by max_tokens is not cached.
                max_tokens=1000,
                temperature=0,
                session_id="chat-7",
            )
        await suite.settled()
        forked = await acme.stub.ForkSession(
            gateway_pb2.ForkSessionRequest(session_id="chat-7", new_session_id="lead-7"),
            metadata=acme.metadata,
        )
        assert forked.messages == 4
        analysis = await acme.complete(
            messages=[{"role": "user", "content": "Summarise this lead's intent."}],
            max_tokens=60,
            task="lead_analysis",
            session_id="lead-7",
            template_variables={"company": "Harbor Realty", "lead_name": "Ann"},
        )
        assert analysis.account.cost.total_micros > 0
        last = [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"][-1]
        assert len(last["messages"]) == 5  # the chat's four turns, then the question

        # Another tenant: sees nothing, cannot fork or delete acme's session.
        empty = await globex.stub.GetSession(
            gateway_pb2.GetSessionRequest(session_id="chat-7"), metadata=globex.metadata
        )
        assert list(empty.messages) == []
        with pytest.raises(grpc.aio.AioRpcError) as not_found:
            await globex.stub.ForkSession(
                gateway_pb2.ForkSessionRequest(session_id="chat-7", new_session_id="mine"),
                metadata=globex.metadata,
            )
        assert not_found.value.code() == grpc.StatusCode.NOT_FOUND
        missed = await globex.stub.DeleteSession(
            gateway_pb2.DeleteSessionRequest(session_id="chat-7"), metadata=globex.metadata
        )
        assert not missed.deleted

        # A privacy request: every turn goes, and the answers cached from them.
        await suite.settled()
        deleted = await acme.stub.DeleteSession(
            gateway_pb2.DeleteSessionRequest(session_id="chat-7"), metadata=acme.metadata
        )
        assert deleted.deleted
        assert deleted.exact_removed == 2
        # This suite runs no semantic cache: the reply says so instead of claiming it clean.
        assert list(deleted.caches_not_cleared) == ["semantic_cache"]
        gone = await acme.stub.GetSession(
            gateway_pb2.GetSessionRequest(session_id="chat-7"), metadata=acme.metadata
        )
        assert list(gone.messages) == []
        await acme.stub.DeleteSession(
            gateway_pb2.DeleteSessionRequest(session_id="lead-7"), metadata=acme.metadata
        )
    client = aioredis.Redis.from_url(redis_url)
    try:
        left = [key async for key in client.scan_iter(f"{redis_namespace}:sessions:*")]
    finally:
        await client.aclose()
    assert left == []


async def test_the_http_door_takes_a_session_header_and_bad_ids_are_refused(
    suite: FullSuite,
) -> None:
    async with httpx.AsyncClient(base_url=suite.http_url, timeout=30) as http:
        for question in QUESTIONS[:2]:
            reply = await http.post(
                "/v1/messages",
                json={
                    "model": "claude-sonnet-5-5",
                    "max_tokens": 60,
                    "messages": [{"role": "user", "content": question}],
                },
                headers={"x-api-key": API_KEY, "x-tollgate-session": "web-1"},
            )
            assert reply.status_code == 200, reply.text
        bad = await http.post(
            "/v1/messages",
            json={
                "model": "claude-sonnet-5-5",
                "max_tokens": 60,
                "messages": [{"role": "user", "content": "Hi"}],
            },
            headers={"x-api-key": API_KEY, "x-tollgate-session": "acme:web-1"},
        )
        assert bad.status_code == 400
        assert "not a session id" in bad.json()["error"]["message"]
    last = [r.body for r in suite.emulator.stats.requests if r.path == "/v1/messages"][-1]
    assert len(last["messages"]) == 3


async def test_a_streamed_turn_and_a_cached_answer_are_stored_and_a_caller_who_leaves_unlocks(
    suite: FullSuite,
) -> None:
    ask = {
        "system": SYSTEM,
        "max_tokens": 1000,
        "temperature": 0,
    }
    async with suite.client() as client:
        # A streamed turn whose caller leaves after the first event.
        stream = client.stream(
            messages=[{"role": "user", "content": QUESTIONS[0]}], session_id="left", **ask
        )
        async for _ in stream:
            break
        stream.cancel()
        # The gateway reads the answer to its end in background work, stores it, then unlocks.
        await asyncio.sleep(0.5)
        await suite.settled()
        # The answer was read to its end, stored, and the session is free for the next turn.
        second = await client.complete(
            messages=[{"role": "user", "content": QUESTIONS[1]}],
            session_id="left",
            timeout=20,
            **ask,
        )
        assert second.account.cost.total_micros > 0
        await suite.settled()
        # The same first turn on a new session is an exact-cache hit: stored all the same.
        hit = await client.complete(
            messages=[{"role": "user", "content": QUESTIONS[0]}], session_id="again", **ask
        )
        assert hit.account.cache_status == common_pb2.CACHE_STATUS_EXACT
        await suite.settled()
        left, again = [
            await client.stub.GetSession(
                gateway_pb2.GetSessionRequest(session_id=name), metadata=client.metadata
            )
            for name in ("left", "again")
        ]
    assert len(left.messages) == 4
    assert left.messages[1].content == again.messages[1].content
    assert len(again.messages) == 2


async def test_the_stored_history_counts_against_the_token_rate_limit(
    start_door: Callable[..., AbstractAsyncContextManager[FullSuite]],
    redis_url: str,
    redis_namespace: str,
) -> None:
    limits = RateLimits(tenant_tokens_per_minute=6_000)
    async with (
        start_door(
            sessions_redis_url=redis_url,
            sessions_key_prefix=f"{redis_namespace}:sessions",
            rate_limit_redis_url=redis_url,
            rate_limit_key_prefix=f"{redis_namespace}:rl",
            rate_limits=limits,
        ) as suite,
        suite.client() as client,
    ):
        # One long opening turn, then short ones: the new turns alone add up to well under
        # the limit (about 1,700 + 5 x 20 tokens); with the history each turn carries, not.
        opening = "Tell me everything about the garden and the roof. " * 150
        refused = None
        for turn in range(6):
            question = opening if turn == 0 else f"And point {turn}?"
            try:
                await client.complete(
                    messages=[{"role": "user", "content": question}],
                    max_tokens=20,
                    session_id="heavy",
                )
            except TollgateError as error:
                refused = (turn, error)
                break
    assert refused is not None
    turn, error = refused
    assert turn >= 2
    assert error.code == grpc.StatusCode.RESOURCE_EXHAUSTED
