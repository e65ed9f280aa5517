"""The gateway's gRPC servicer: authenticate, validate, compose the backend services, account."""

from __future__ import annotations

import logging
import time
from collections.abc import AsyncIterator

import grpc

from tollgate.common import telemetry
from tollgate.common.auth import ApiKey, KeyRing
from tollgate.common.errors import ServiceError
from tollgate.common.ids import new_request_id, new_trace_id
from tollgate.common.interceptors import annotate
from tollgate.common.pricing import PriceTable
from tollgate.common.server import GrpcService, Registration
from tollgate.gateway.account import account_for_generation
from tollgate.gateway.backends import Backends
from tollgate.gateway.settings import Settings
from tollgate.gateway.validation import RequestValidator
from tollgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc, orchestrator_pb2

log = logging.getLogger("tollgate.gateway")


def _authorization(context: grpc.aio.ServicerContext) -> str | None:
    for key, value in context.invocation_metadata() or ():
        if key == "authorization":
            return str(value)
    return None


def _forward_error(exc: grpc.aio.AioRpcError, backend: str) -> ServiceError:
    """A backend's status passed on to the caller; its sentence is already meant for people."""
    code = exc.code()
    if code in (grpc.StatusCode.UNAVAILABLE, grpc.StatusCode.UNKNOWN, grpc.StatusCode.INTERNAL):
        message = exc.details() or f"The {backend} is unavailable."
        if code != grpc.StatusCode.UNAVAILABLE:
            message = f"The {backend} failed; try again shortly."
        return ServiceError(message, grpc.StatusCode.UNAVAILABLE)
    return ServiceError(exc.details() or code.name, code)


class GatewayServicer(gateway_pb2_grpc.GatewayServiceServicer):
    def __init__(
        self, settings: Settings, keys: KeyRing, prices: PriceTable, backends: Backends
    ) -> None:
        self._settings = settings
        self._keys = keys
        self._validator = RequestValidator(settings, prices)
        self._backends = backends

    def _authenticate(self, context: grpc.aio.ServicerContext) -> ApiKey:
        key = self._keys.authenticate(_authorization(context))
        annotate(tenant=key.tenant, api_key_id=key.id)
        return key

    def _request_context(
        self, key: ApiKey, completion: gateway_pb2.Completion
    ) -> common_pb2.RequestContext:
        request_id = completion.request_id or new_request_id()
        annotate(request_id=request_id)
        return common_pb2.RequestContext(
            tenant_id=key.tenant,
            api_key_id=key.id,
            contact_id=completion.contact_id,
            request_id=request_id,
            task=completion.task,
            conversation_id=completion.conversation_id,
            trace_id=telemetry.current_trace_id() or new_trace_id(),
        )

    def _timeout(self, context: grpc.aio.ServicerContext) -> float:
        remaining = context.time_remaining()
        limit = self._settings.orchestrator_timeout_seconds
        return limit if remaining is None else min(remaining, limit)

    def _spec(
        self, request_context: common_pb2.RequestContext, completion: gateway_pb2.Completion
    ) -> orchestrator_pb2.GenerationSpec:
        return orchestrator_pb2.GenerationSpec(
            context=request_context,
            request=completion.request,
            template_variables=completion.template_variables,
        )

    async def Complete(
        self, request: gateway_pb2.CompleteRequest, context: grpc.aio.ServicerContext
    ) -> gateway_pb2.CompleteResponse:
        started = time.perf_counter()
        key = self._authenticate(context)
        self._validator.check(request.completion)
        request_context = self._request_context(key, request.completion)
        spec = self._spec(request_context, request.completion)
        try:
            reply = await self._backends.orchestrator.Generate(
                orchestrator_pb2.GenerateRequest(spec=spec), timeout=self._timeout(context)
            )
        except grpc.aio.AioRpcError as exc:
            raise _forward_error(exc, "orchestrator") from exc
        account = account_for_generation(request_context, reply.result, started)
        return gateway_pb2.CompleteResponse(response=reply.result.response, account=account)

    async def StreamComplete(
        self, request: gateway_pb2.StreamCompleteRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[gateway_pb2.StreamCompleteResponse]:
        started = time.perf_counter()
        key = self._authenticate(context)
        self._validator.check(request.completion)
        request_context = self._request_context(key, request.completion)
        spec = self._spec(request_context, request.completion)
        call = self._backends.orchestrator.StreamGenerate(
            orchestrator_pb2.StreamGenerateRequest(spec=spec), timeout=self._timeout(context)
        )
        try:
            async for item in call:
                if item.HasField("event"):
                    yield gateway_pb2.StreamCompleteResponse(event=item.event)
                else:
                    account = account_for_generation(request_context, item.result, started)
                    yield gateway_pb2.StreamCompleteResponse(account=account)
        except grpc.aio.AioRpcError as exc:
            raise _forward_error(exc, "orchestrator") from exc
        finally:
            # The caller went away or the stream ended: stop the upstream call either way.
            call.cancel()


def load_keys(settings: Settings) -> KeyRing:
    if not settings.api_keys_file:
        log.warning("no API keys file configured: every call will be refused")
        return KeyRing([])
    return KeyRing.from_file(settings.api_keys_file)


async def build_service(settings: Settings) -> GrpcService:
    backends = Backends.connect(settings)
    prices = PriceTable.load(settings.prices_file or None)
    # RPCs not built yet (lead scoring, reports, budgets, admin) answer UNIMPLEMENTED from the
    # generated base class.
    servicer = GatewayServicer(settings, load_keys(settings), prices, backends)  # type: ignore[abstract]
    full_name = gateway_pb2.DESCRIPTOR.services_by_name["GatewayService"].full_name
    registration = Registration(
        full_name, gateway_pb2_grpc.add_GatewayServiceServicer_to_server, servicer
    )
    return GrpcService("gateway", [registration], on_stop=[backends.close])
