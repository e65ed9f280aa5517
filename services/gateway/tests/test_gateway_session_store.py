"""The session store against a real Redis: turns run one at a time and never interleave, a turn
whose lease ran out cannot write, sessions expire, fork and delete, and tenants never meet."""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator

import grpc
import pytest
import redis.asyncio as aioredis

from tollgate.common.errors import ServiceError
from tollgate.gateway.sessions import SessionStore, check_session_id
from tollgate.v1 import common_pb2


def _message(role: common_pb2.Role.ValueType, text: str) -> common_pb2.Message:
    return common_pb2.Message(
        role=role, content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))]
    )


def _text(message: common_pb2.Message) -> str:
    return message.content[0].text.text


@pytest.fixture
async def store(redis_url: str, redis_namespace: str) -> AsyncIterator[SessionStore]:
    sessions = SessionStore(
        redis_url,
        f"{redis_namespace}:session",
        ttl_seconds=60,
        max_bytes=10_000,
        lease_seconds=5,
        timeout_seconds=1,
    )
    yield sessions
    await sessions.close()


async def _turn(store: SessionStore, tenant: str, session: str, n: int) -> int:
    """One turn: read the history, 'ask Claude' (a pause), store the question and answer."""
    lease = await store.acquire(tenant, session, wait_seconds=10)
    try:
        seen = len((await store.history(tenant, session)).messages)
        await asyncio.sleep(0.01)
        await store.append(
            lease,
            [
                _message(common_pb2.ROLE_USER, f"question {n} after {seen}"),
                _message(common_pb2.ROLE_ASSISTANT, f"answer {n} after {seen}"),
            ],
        )
        return seen
    finally:
        await store.release(lease)


async def test_concurrent_turns_run_one_at_a_time_and_never_interleave(
    store: SessionStore,
) -> None:
    seen = await asyncio.gather(*(_turn(store, "acme", "chat-1", n) for n in range(12)))
    # Each turn saw every turn before it: 0, 2, 4, ... messages, each count exactly once.
    assert sorted(seen) == list(range(0, 24, 2))
    history = (await store.history("acme", "chat-1")).messages
    assert len(history) == 24
    for index in range(0, 24, 2):
        question, answer = _text(history[index]), _text(history[index + 1])
        assert question.replace("question", "answer") == answer
        assert question.endswith(f"after {index}")


async def test_a_turn_whose_lease_ran_out_cannot_write_after_the_next_one(
    redis_url: str, redis_namespace: str
) -> None:
    # The same sessions, seen by a gateway whose leases are short and by one whose are long.
    store = SessionStore(redis_url, f"{redis_namespace}:s", 60, 10_000, 0.2, 1)
    patient = SessionStore(redis_url, f"{redis_namespace}:s", 60, 10_000, 30, 1)
    try:
        slow = await store.acquire("acme", "s1", wait_seconds=1)
        await asyncio.sleep(0.3)  # the slow turn's lease expires
        fast = await patient.acquire("acme", "s1", wait_seconds=1)
        await store.append(fast, [_message(common_pb2.ROLE_USER, "fast")])
        with pytest.raises(ServiceError) as late:
            await store.append(slow, [_message(common_pb2.ROLE_USER, "slow")])
        assert late.value.code == grpc.StatusCode.FAILED_PRECONDITION
        # Releasing the stale lease does not free the session from the turn that holds it.
        await store.release(slow)
        with pytest.raises(ServiceError) as busy:
            await store.acquire("acme", "s1", wait_seconds=0.05)
        assert busy.value.code == grpc.StatusCode.FAILED_PRECONDITION
        assert [_text(m) for m in (await store.history("acme", "s1")).messages] == ["fast"]
    finally:
        await store.close()
        await patient.close()


async def test_an_idle_session_expires(redis_url: str, redis_namespace: str) -> None:
    store = SessionStore(redis_url, f"{redis_namespace}:s", 1.0, 10_000, 5, 1)
    try:
        await _turn(store, "acme", "brief", 0)
        assert len((await store.history("acme", "brief")).messages) == 2
        await asyncio.sleep(1.3)
        assert (await store.history("acme", "brief")).messages == []
    finally:
        await store.close()


async def test_fork_copies_and_delete_leaves_no_key(
    store: SessionStore, redis_url: str, redis_namespace: str
) -> None:
    await _turn(store, "acme", "chat", 0)
    assert await store.fork("acme", "chat", "lead-analysis") == 2
    await _turn(store, "acme", "lead-analysis", 1)
    assert len((await store.history("acme", "chat")).messages) == 2
    assert len((await store.history("acme", "lead-analysis")).messages) == 4
    with pytest.raises(ServiceError) as exists:
        await store.fork("acme", "chat", "lead-analysis")
    assert exists.value.code == grpc.StatusCode.ALREADY_EXISTS
    with pytest.raises(ServiceError) as missing:
        await store.fork("acme", "nothing-here", "copy")
    assert missing.value.code == grpc.StatusCode.NOT_FOUND

    # A turn in flight while the session is deleted cannot write it back.
    lease = await store.acquire("acme", "chat", wait_seconds=1)
    assert await store.delete("acme", "chat")
    with pytest.raises(ServiceError):
        await store.append(lease, [_message(common_pb2.ROLE_USER, "after deletion")])
    assert await store.delete("acme", "lead-analysis")
    assert not await store.delete("acme", "chat")
    client = aioredis.Redis.from_url(redis_url)
    try:
        assert [key async for key in client.scan_iter(f"{redis_namespace}:session:*")] == []
    finally:
        await client.aclose()


async def test_tenants_never_see_each_others_sessions(store: SessionStore) -> None:
    await _turn(store, "acme", "chat", 0)
    assert (await store.history("globex", "chat")).messages == []
    with pytest.raises(ServiceError):
        await store.fork("globex", "chat", "stolen")
    assert not await store.delete("globex", "chat")
    assert len((await store.history("acme", "chat")).messages) == 2


@pytest.mark.parametrize("bad", ["", "a:b", "{acme}", "x" * 129, "chat 1", "-lead"])
def test_session_ids_that_could_read_two_ways_are_refused(bad: str) -> None:
    with pytest.raises(ServiceError) as refused:
        check_session_id(bad, "completion.session_id")
    assert refused.value.code == grpc.StatusCode.INVALID_ARGUMENT
