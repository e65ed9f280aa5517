"""The orchestrator's gRPC servicer: the only place in Tollgate that calls Claude."""

from __future__ import annotations

from collections.abc import AsyncIterator

import anthropic
import grpc

from tollgate.common.errors import ServiceError, invalid_argument
from tollgate.common.interceptors import annotate
from tollgate.common.pricing import PriceTable
from tollgate.common.server import GrpcService, Registration
from tollgate.orchestrator.generator import Generator
from tollgate.orchestrator.settings import Settings
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc


def _check_spec(spec: orchestrator_pb2.GenerationSpec) -> None:
    if not spec.request.messages:
        raise invalid_argument("The request has no messages.", "spec.request.messages")
    if spec.request.max_tokens <= 0:
        raise invalid_argument("max_tokens must be positive.", "spec.request.max_tokens")


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(self, generator: Generator) -> None:
        self._generator = generator

    async def Generate(
        self, request: orchestrator_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GenerateResponse:
        _check_spec(request.spec)
        annotate(tenant=request.spec.context.tenant_id, request_id=request.spec.context.request_id)
        result = await self._generator.generate(request.spec, context.time_remaining())
        return orchestrator_pb2.GenerateResponse(result=result)

    async def StreamGenerate(
        self, request: orchestrator_pb2.StreamGenerateRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orchestrator_pb2.StreamGenerateResponse]:
        _check_spec(request.spec)
        annotate(tenant=request.spec.context.tenant_id, request_id=request.spec.context.request_id)
        async for item in self._generator.stream(request.spec, context.time_remaining()):
            yield item

    async def CreateBatch(
        self, request: orchestrator_pb2.CreateBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.CreateBatchResponse:
        raise _batches_not_available()

    async def GetBatch(
        self, request: orchestrator_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GetBatchResponse:
        raise _batches_not_available()

    async def GetBatchResults(
        self, request: orchestrator_pb2.GetBatchResultsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orchestrator_pb2.GetBatchResultsResponse]:
        raise _batches_not_available()
        yield  # an async generator, as the streaming contract requires

    async def CancelBatch(
        self, request: orchestrator_pb2.CancelBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.CancelBatchResponse:
        raise _batches_not_available()


def _batches_not_available() -> ServiceError:
    return ServiceError("Message batches are not available yet.", grpc.StatusCode.UNIMPLEMENTED)


def anthropic_client(settings: Settings) -> anthropic.AsyncAnthropic:
    """The SDK client. Its own retries are off: retrying is the orchestrator's decision."""
    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key or "unset",
        base_url=settings.anthropic_base_url or None,
        max_retries=0,
    )


async def build_service(settings: Settings) -> GrpcService:
    client = anthropic_client(settings)
    prices = PriceTable.load(settings.prices_file or None)
    servicer = OrchestratorServicer(Generator(client, prices, settings))
    full_name = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
    registration = Registration(
        full_name, orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server, servicer
    )
    return GrpcService("orchestrator", [registration], on_stop=[client.close])
