"""The orchestrator's gRPC servicer: the only place in Tollgate that calls Claude."""

from __future__ import annotations

import logging
import random
from collections.abc import AsyncIterator, Awaitable, Callable

import anthropic
import grpc

from tollgate.common.errors import invalid_argument
from tollgate.common.interceptors import annotate
from tollgate.common.pricing import PriceTable
from tollgate.common.server import GrpcService, Registration
from tollgate.orchestrator.batches import BatchService
from tollgate.orchestrator.breaker import CircuitBreakers
from tollgate.orchestrator.classification.classifier import TEMPLATE_TASK, PackedClassifier
from tollgate.orchestrator.classification.settings import ClassificationSettings
from tollgate.orchestrator.concurrency import ConcurrencyLimits
from tollgate.orchestrator.generator import Generator
from tollgate.orchestrator.http_tracing import UpstreamTransport
from tollgate.orchestrator.messages_client import MessagesClient
from tollgate.orchestrator.pacing import (
    Pacer,
    RedisPacer,
    Unpaced,
    organisation_id,
    pacing_redis,
)
from tollgate.orchestrator.resilience import ResilientCaller
from tollgate.orchestrator.retry import BackoffPolicy
from tollgate.orchestrator.settings import Settings
from tollgate.orchestrator.templates import TemplateLibrary
from tollgate.v1 import classification_pb2, orchestrator_pb2, orchestrator_pb2_grpc


def _check_spec(spec: orchestrator_pb2.GenerationSpec, where: str = "spec") -> None:
    if not spec.request.messages:
        raise invalid_argument("The request has no messages.", f"{where}.request.messages")
    if spec.request.max_tokens <= 0:
        raise invalid_argument("max_tokens must be positive.", f"{where}.request.max_tokens")


def _check_tenant(tenant_id: str) -> None:
    if not tenant_id:
        raise invalid_argument("Batches belong to a tenant; context.tenant_id is empty.", "context")


def _check_batch_id(batch_id: str) -> None:
    if not batch_id:
        raise invalid_argument("batch_id is empty.", "batch_id")


class OrchestratorServicer(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    def __init__(
        self,
        generator: Generator,
        batches: BatchService,
        classifier: PackedClassifier,
        templates: TemplateLibrary,
    ) -> None:
        self._generator = generator
        self._batches = batches
        self._classifier = classifier
        self._templates = templates

    async def Generate(
        self, request: orchestrator_pb2.GenerateRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GenerateResponse:
        _check_spec(request.spec)
        annotate(tenant=request.spec.context.tenant_id, request_id=request.spec.context.request_id)
        result = await self._generator.generate(request.spec, context.time_remaining())
        return orchestrator_pb2.GenerateResponse(result=result)

    async def ListTemplates(
        self, request: orchestrator_pb2.ListTemplatesRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.ListTemplatesResponse:
        return orchestrator_pb2.ListTemplatesResponse(versions=self._templates.versions())

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
        _check_tenant(request.context.tenant_id)
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        for i, item in enumerate(request.items):
            _check_spec(item.spec, f"items[{i}].spec")
        batch = await self._batches.create(
            request.context.tenant_id, list(request.items), request.context.request_id
        )
        return orchestrator_pb2.CreateBatchResponse(batch=batch)

    async def GetBatch(
        self, request: orchestrator_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GetBatchResponse:
        _check_tenant(request.context.tenant_id)
        _check_batch_id(request.batch_id)
        batch = await self._batches.get(request.context.tenant_id, request.batch_id)
        return orchestrator_pb2.GetBatchResponse(batch=batch)

    async def GetBatchResults(
        self, request: orchestrator_pb2.GetBatchResultsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orchestrator_pb2.GetBatchResultsResponse]:
        _check_tenant(request.context.tenant_id)
        _check_batch_id(request.batch_id)
        async for item in self._batches.results(request.context.tenant_id, request.batch_id):
            yield item

    async def CancelBatch(
        self, request: orchestrator_pb2.CancelBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.CancelBatchResponse:
        _check_tenant(request.context.tenant_id)
        _check_batch_id(request.batch_id)
        batch = await self._batches.cancel(request.context.tenant_id, request.batch_id)
        return orchestrator_pb2.CancelBatchResponse(batch=batch)

    async def ListBatches(
        self, request: orchestrator_pb2.ListBatchesRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.ListBatchesResponse:
        _check_tenant(request.context.tenant_id)
        batches, has_more = await self._batches.list(
            request.context.tenant_id, request.limit, request.before_id, request.after_id
        )
        return orchestrator_pb2.ListBatchesResponse(batches=batches, has_more=has_more)

    async def ClassifyItems(
        self, request: orchestrator_pb2.ClassifyItemsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orchestrator_pb2.ClassifyItemsResponse]:
        annotate(tenant=request.context.tenant_id, request_id=request.context.request_id)
        results: AsyncIterator[classification_pb2.ClassificationResult] = self._classifier.classify(
            request, context.time_remaining
        )
        version = self._templates.versions().get(TEMPLATE_TASK, "")
        async for result in results:
            yield orchestrator_pb2.ClassifyItemsResponse(result=result, template_version=version)


def upstream_for(pacer: Pacer | None = None) -> UpstreamTransport:
    """The transport under the SDK. With a pacer, every response's rate-limit headers reach it
    on the way back; with pacing off (`Unpaced`) they are not read at all."""
    return UpstreamTransport(pacer=None if pacer is None or isinstance(pacer, Unpaced) else pacer)


def anthropic_client(
    settings: Settings, upstream: UpstreamTransport | None = None
) -> anthropic.AsyncAnthropic:
    """The SDK client, over `upstream`. Its own retries are off: retrying is the orchestrator's
    decision."""
    return anthropic.AsyncAnthropic(
        api_key=settings.anthropic_api_key or "unset",
        base_url=settings.anthropic_base_url or None,
        max_retries=0,
        http_client=anthropic.DefaultAsyncHttpxClient(transport=upstream or upstream_for()),
    )


def fleet_pacer(settings: Settings) -> tuple[Pacer, list[Callable[[], Awaitable[None]]]]:
    """The pacer the settings ask for, and what closes it on shutdown."""
    if not (settings.pacing_enabled and settings.pacing_redis_url):
        return Unpaced(), []
    redis = pacing_redis(settings.pacing_redis_url, settings.pacing_redis_timeout_seconds)
    pacer = RedisPacer(
        redis,
        organisation=organisation_id(settings.anthropic_api_key),
        key_prefix=settings.pacing_key_prefix,
        timeout_seconds=settings.pacing_redis_timeout_seconds,
        retry_seconds=settings.pacing_retry_seconds,
        call_reserve_seconds=settings.pacing_call_reserve_seconds,
    )
    return pacer, [redis.aclose]


def resilient_caller(
    settings: Settings, rng: random.Random | None = None, pacer: Pacer | None = None
) -> ResilientCaller:
    return ResilientCaller(
        ConcurrencyLimits(
            settings.concurrency_initial, settings.concurrency_min, settings.concurrency_max
        ),
        CircuitBreakers(settings.breaker_failure_threshold, settings.breaker_open_seconds),
        BackoffPolicy(settings.backoff_base_seconds, settings.backoff_max_seconds),
        settings.max_attempts,
        rng,
        pacer,
    )


def build_generator(
    settings: Settings,
    client: anthropic.AsyncAnthropic,
    templates: TemplateLibrary,
    pacer: Pacer | None = None,
    upstream: UpstreamTransport | None = None,
) -> Generator:
    return Generator(
        MessagesClient(client, upstream),
        PriceTable.load(settings.prices_file or None),
        settings,
        templates,
        resilient_caller(settings, pacer=pacer),
    )


def quiet_http_client_log(log_level: str) -> None:
    """The SDK's HTTP client logs an INFO line for every call to Claude; below DEBUG it is dropped.

    The RPC's access line and the `POST /v1/messages` span already record each call, and building
    and writing the extra JSON line cost about 3% of the orchestrator's CPU per request.
    """
    if logging.getLevelName(log_level.upper()) != logging.DEBUG:
        logging.getLogger("httpx2").setLevel(logging.WARNING)


async def build_service(settings: Settings) -> GrpcService:
    quiet_http_client_log(settings.log_level)
    pacer, close_pacer = fleet_pacer(settings)
    upstream = upstream_for(pacer)
    client = anthropic_client(settings, upstream)
    templates = TemplateLibrary.load(settings.templates_dir or None)
    generator = build_generator(settings, client, templates, pacer, upstream)
    batches = BatchService(client, generator, PriceTable.load(settings.prices_file or None))
    classifier = PackedClassifier(generator, templates, ClassificationSettings())
    servicer = OrchestratorServicer(generator, batches, classifier, templates)
    full_name = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
    registration = Registration(
        full_name, orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server, servicer
    )
    return GrpcService("orchestrator", [registration], on_stop=[client.close, *close_pacer])
