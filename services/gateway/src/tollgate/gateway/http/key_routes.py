"""`/v1/tollgate/keys`: the managed-key admin calls on the HTTP door, in JSON.

Bodies and replies are the gRPC messages in protobuf's JSON mapping (field names as in the
.proto; 64-bit numbers as strings), with two shorthands a person would type: `"role": "admin"`
for `API_KEY_ROLE_ADMIN` and `"allowed_tasks": ["chat"]` for `TASK_TYPE_CHAT`.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, TypeVar

from aiohttp import web
from google.protobuf import json_format
from google.protobuf.message import Message

from tollgate.common.auth import ApiKey
from tollgate.common.errors import failed_precondition, invalid_argument
from tollgate.gateway.http import inbound
from tollgate.gateway.key_admin import KeyAdmin
from tollgate.v1 import gateway_pb2

if TYPE_CHECKING:
    from tollgate.gateway.service import GatewayServicer

M = TypeVar("M", bound=Message)

_TRUE = {"true", "1", "yes"}


def _short_names(body: dict[str, Any]) -> dict[str, Any]:
    role = body.get("role")
    if isinstance(role, str) and not role.upper().startswith("API_KEY_ROLE_"):
        body["role"] = f"API_KEY_ROLE_{role.upper()}"
    limits = body.get("limits")
    if isinstance(limits, dict) and isinstance(limits.get("allowed_tasks"), list):
        limits["allowed_tasks"] = [
            f"TASK_TYPE_{t.upper()}"
            if isinstance(t, str) and not t.upper().startswith("TASK_TYPE_")
            else t
            for t in limits["allowed_tasks"]
        ]
    return body


def _message(body: dict[str, Any], message: M) -> M:
    try:
        return json_format.ParseDict(_short_names(body), message)
    except json_format.ParseError as exc:
        raise invalid_argument(f"The request body does not fit: {exc}.") from None


def _reply(message: Message) -> web.Response:
    return web.json_response(json_format.MessageToDict(message, preserving_proto_field_name=True))


class KeyRoutes:
    def __init__(self, servicer: GatewayServicer) -> None:
        self._servicer = servicer

    def add_to(self, app: web.Application) -> None:
        app.router.add_post("/v1/tollgate/keys", self.create)
        app.router.add_get("/v1/tollgate/keys", self.list)
        app.router.add_post("/v1/tollgate/keys/{key_id}/revoke", self.revoke)
        app.router.add_post("/v1/tollgate/keys/{key_id}/rotate", self.rotate)

    def _caller(self, request: web.Request) -> tuple[ApiKey, KeyAdmin]:
        key = self._servicer.authenticate(inbound.authorization(request.headers))
        if self._servicer.key_admin is None:
            raise failed_precondition("Managed keys are off on this gateway.")
        return key, self._servicer.key_admin

    @staticmethod
    async def _body(request: web.Request) -> dict[str, Any]:
        raw = await request.read()
        return inbound.parse_body(raw) if raw.strip() else {}

    async def create(self, request: web.Request) -> web.Response:
        key, admin = self._caller(request)
        body = _message(await self._body(request), gateway_pb2.CreateApiKeyRequest())
        return _reply(await admin.create(key, body))

    async def list(self, request: web.Request) -> web.Response:
        key, admin = self._caller(request)
        query = request.query
        listing = gateway_pb2.ListApiKeysRequest(
            tenant_id=query.get("tenant_id", ""),
            include_revoked=query.get("include_revoked", "").lower() in _TRUE,
        )
        return _reply(await admin.list(key, listing))

    async def revoke(self, request: web.Request) -> web.Response:
        key, admin = self._caller(request)
        body = _message(await self._body(request), gateway_pb2.RevokeApiKeyRequest())
        body.key_id = request.match_info["key_id"]
        return _reply(await admin.revoke(key, body))

    async def rotate(self, request: web.Request) -> web.Response:
        key, admin = self._caller(request)
        body = _message(await self._body(request), gateway_pb2.RotateApiKeyRequest())
        body.key_id = request.match_info["key_id"]
        return _reply(await admin.rotate(key, body))
