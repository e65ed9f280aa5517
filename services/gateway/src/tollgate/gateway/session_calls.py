"""GetSession, ForkSession and DeleteSession: a tenant's stored conversations, for any key of
the tenant (an application owns its conversations; the key's tenant scopes every call, there is
no tenant field to name another).

Deleting a session (a privacy request) deletes every stored turn and the lease, then drops the
cached answers tagged with the session from the exact and semantic caches. The ledger keeps
amounts and token counts, never text; what other services hold in process memory (the
optimizer's optional summaries, the semantic cache's embeddings) is not reached (docs/api.md).
A cache that cannot be reached is named in the reply (`caches_not_cleared`) rather than
reported clean.
"""

from __future__ import annotations

from tollgate.common.auth import ApiKey
from tollgate.common.errors import unavailable
from tollgate.gateway.admin import invalidate_tags
from tollgate.gateway.flags import FlagsSource
from tollgate.gateway.routing import BackendRouter
from tollgate.gateway.sessions import SessionStore, check_session_id, session_tag
from tollgate.gateway.settings import Settings
from tollgate.v1 import gateway_pb2


class SessionCalls:
    def __init__(
        self,
        store: SessionStore | None,
        settings: Settings,
        flags: FlagsSource,
        router: BackendRouter,
    ) -> None:
        self._store = store
        self._settings = settings
        self._flags = flags
        self._router = router

    def _sessions(self) -> SessionStore:
        if self._store is None:
            raise unavailable("This gateway has no session store configured.")
        return self._store

    async def get(
        self, key: ApiKey, request: gateway_pb2.GetSessionRequest
    ) -> gateway_pb2.GetSessionResponse:
        session = check_session_id(request.session_id, "session_id")
        history = await self._sessions().history(key.tenant, session)
        return gateway_pb2.GetSessionResponse(
            messages=history.messages, stored_bytes=history.stored_bytes
        )

    async def fork(
        self, key: ApiKey, request: gateway_pb2.ForkSessionRequest
    ) -> gateway_pb2.ForkSessionResponse:
        session = check_session_id(request.session_id, "session_id")
        new_session = check_session_id(request.new_session_id, "new_session_id")
        copied = await self._sessions().fork(key.tenant, session, new_session)
        return gateway_pb2.ForkSessionResponse(messages=copied)

    async def delete(
        self, key: ApiKey, request: gateway_pb2.DeleteSessionRequest
    ) -> gateway_pb2.DeleteSessionResponse:
        session = check_session_id(request.session_id, "session_id")
        deleted = await self._sessions().delete(key.tenant, session)
        cleared = await invalidate_tags(
            self._router, self._flags, self._settings, key.tenant, [session_tag(session)]
        )
        return gateway_pb2.DeleteSessionResponse(
            deleted=deleted,
            exact_removed=cleared.exact,
            semantic_removed=cleared.semantic,
            caches_not_cleared=[name for name, _ in cleared.failures],
        )
