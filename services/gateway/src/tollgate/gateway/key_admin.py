"""The managed-key admin calls (CreateApiKey, ListApiKeys, RevokeApiKey, RotateApiKey), shared by
gRPC and the HTTP door.

Who may do what: an admin key acts on its own tenant only, an operator key on any tenant; only
an operator key may create, revoke or rotate an operator key (rotating one hands out its power).
The secret is made here, returned once and never logged; the ledger only ever sees its hash.
"""

from __future__ import annotations

import secrets
from collections.abc import Awaitable, Callable
from typing import Any

from tollgate.common.auth import ApiKey, hash_api_key
from tollgate.common.errors import permission_denied
from tollgate.gateway.admin import require_admin, tenant_in_scope
from tollgate.gateway.field_checks import check_enum, check_identifier, check_timestamp
from tollgate.gateway.key_directory import KeyDirectory
from tollgate.v1 import budget_ledger_pb2 as ledger_pb
from tollgate.v1 import gateway_pb2

LedgerCall = Callable[[str, str, object], Awaitable[Any]]

# Recognisable in logs and scanners, and 256 bits of randomness.
SECRET_PREFIX = "tg_"


def new_secret() -> str:
    return SECRET_PREFIX + secrets.token_urlsafe(32)


class KeyAdmin:
    def __init__(self, ledger_call: LedgerCall, directory: KeyDirectory) -> None:
        self._ledger_call = ledger_call
        self._directory = directory

    async def _changed(self) -> None:
        # This replica follows its own change at once; the others within a refresh.
        await self._directory.refresh()

    async def create(
        self, key: ApiKey, request: gateway_pb2.CreateApiKeyRequest
    ) -> gateway_pb2.CreateApiKeyResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        check_enum(ledger_pb.ApiKeyRole, request.role, "role")
        role = request.role or ledger_pb.API_KEY_ROLE_APP
        if role == ledger_pb.API_KEY_ROLE_OPERATOR and not key.operator:
            raise permission_denied("Only an operator key may create an operator key.")
        check_identifier(request.name, "name", required=True)
        if request.HasField("expires_at"):
            check_timestamp(request.expires_at, "expires_at")
        secret = new_secret()
        store = ledger_pb.StoreApiKeyRequest(
            tenant_id=tenant,
            name=request.name,
            role=role,
            limits=request.limits,
            secret_sha256=hash_api_key(secret),
            actor=key.id,
        )
        if request.HasField("expires_at"):
            store.expires_at.CopyFrom(request.expires_at)
        reply = await self._ledger_call(tenant, "StoreApiKey", store)
        await self._changed()
        return gateway_pb2.CreateApiKeyResponse(key=reply.key, secret=secret)

    async def list(
        self, key: ApiKey, request: gateway_pb2.ListApiKeysRequest
    ) -> gateway_pb2.ListApiKeysResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        listing = ledger_pb.ListStoredApiKeysRequest(
            tenant_id=tenant, include_revoked=request.include_revoked
        )
        reply = await self._ledger_call(tenant, "ListStoredApiKeys", listing)
        return gateway_pb2.ListApiKeysResponse(keys=reply.keys)

    async def revoke(
        self, key: ApiKey, request: gateway_pb2.RevokeApiKeyRequest
    ) -> gateway_pb2.RevokeApiKeyResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        check_identifier(request.key_id, "key_id", required=True)
        revoke = ledger_pb.RevokeStoredApiKeyRequest(
            tenant_id=tenant, key_id=request.key_id, actor=key.id, actor_is_operator=key.operator
        )
        reply = await self._ledger_call(tenant, "RevokeStoredApiKey", revoke)
        await self._changed()
        return gateway_pb2.RevokeApiKeyResponse(key=reply.key)

    async def rotate(
        self, key: ApiKey, request: gateway_pb2.RotateApiKeyRequest
    ) -> gateway_pb2.RotateApiKeyResponse:
        require_admin(key)
        tenant = tenant_in_scope(key, request.tenant_id)
        check_identifier(request.key_id, "key_id", required=True)
        secret = new_secret()
        rotate = ledger_pb.RotateStoredApiKeyRequest(
            tenant_id=tenant,
            key_id=request.key_id,
            secret_sha256=hash_api_key(secret),
            actor=key.id,
            actor_is_operator=key.operator,
        )
        if request.HasField("grace"):
            rotate.grace.CopyFrom(request.grace)
        reply = await self._ledger_call(tenant, "RotateStoredApiKey", rotate)
        await self._changed()
        return gateway_pb2.RotateApiKeyResponse(key=reply.key, secret=secret)
