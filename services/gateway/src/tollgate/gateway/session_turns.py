"""One turn of a stored conversation through the pipeline: take the session's lease, put the
stored history before the new turn, and once answered store the turn and its answer and give the
lease back (in background work, so a caller who leaves does not leave the session locked).

What the optimizer trims, the caches key on and prompt caching marks is the whole conversation
(history + the new turn), exactly what a client resending its history would have sent; the store
keeps the turns as the caller sent them and the answers as Claude gave them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field

from tollgate.common.errors import failed_precondition, unavailable
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway.background import BackgroundWork
from tollgate.gateway.sessions import Lease, SessionStore
from tollgate.v1 import common_pb2, gateway_pb2


@dataclass
class Turn:
    """A turn holding its session's lease; finished or abandoned exactly once."""

    store: SessionStore
    lease: Lease
    new_messages: list[common_pb2.Message]
    background: BackgroundWork
    _done: bool = field(default=False)

    def finish(self, response: common_pb2.ClaudeResponse) -> None:
        if self._done:
            return
        self._done = True
        answer = common_pb2.Message(role=common_pb2.ROLE_ASSISTANT, content=response.content)
        self.background.spawn("session append", self._store([*self.new_messages, answer]))

    def abandon(self) -> None:
        if self._done:
            return
        self._done = True
        self.background.spawn("session release", self.store.release(self.lease))

    async def _store(self, messages: list[common_pb2.Message]) -> None:
        try:
            await self.store.append(self.lease, messages)
        finally:
            await self.store.release(self.lease)


# Admits more tokens for a tenant and key under the rate limits (or raises RESOURCE_EXHAUSTED).
Admit = Callable[[str, str, int], Awaitable[None]]


class SessionTurns:
    def __init__(
        self,
        store: SessionStore | None,
        background: BackgroundWork,
        wait_seconds: float,
        admit: Admit | None = None,
    ) -> None:
        self._store = store
        self._background = background
        self._wait_seconds = wait_seconds
        # The door admitted the new turn's tokens; the history's are admitted here, so a
        # session is no way around the token rate limit.
        self._admit = admit

    async def begin(
        self, context: common_pb2.RequestContext, completion: gateway_pb2.Completion
    ) -> tuple[gateway_pb2.Completion, Turn | None]:
        """The completion to run (history + the new turn) and the turn to finish; the same
        completion and None when it names no session."""
        session = completion.session_id
        if not session:
            return completion, None
        if self._store is None:
            raise unavailable("This gateway has no session store configured.")
        store = self._store
        lease = await store.acquire(context.tenant_id, session, self._wait_seconds)
        try:
            history = await store.history(context.tenant_id, session)
            new_messages = list(completion.request.messages)
            new_bytes = sum(len(m.SerializeToString()) for m in new_messages)
            if history.stored_bytes + new_bytes > store.max_bytes:
                raise failed_precondition(
                    f"Session {session!r} holds {history.stored_bytes:,} bytes and this turn "
                    f"would take it past its cap of {store.max_bytes:,}; fork what you need "
                    "into a new session or start one."
                )
            if history.messages and history.messages[-1].role != common_pb2.ROLE_ASSISTANT:
                raise failed_precondition(f"Session {session!r} does not end with an answer.")
            if history.messages and self._admit is not None:
                tokens = estimate_request(common_pb2.ClaudeRequest(messages=history.messages))
                await self._admit(context.tenant_id, context.api_key_id, tokens)
        except BaseException:
            await store.release(lease)
            raise
        full = gateway_pb2.Completion()
        full.CopyFrom(completion)
        del full.request.messages[:]
        full.request.messages.extend([*history.messages, *new_messages])
        return full, Turn(store, lease, new_messages, self._background)
