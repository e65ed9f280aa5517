"""One generation against the Anthropic API through the official SDK, unary or streamed."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import anthropic

from tollgate.common.anthropic_format import (
    request_to_params,
    response_from_json,
    stream_event_from_json,
)
from tollgate.common.pricing import PriceTable
from tollgate.orchestrator.routing import choose_model
from tollgate.orchestrator.settings import Settings
from tollgate.orchestrator.stream_assembly import StreamAssembler
from tollgate.orchestrator.upstream_errors import map_upstream_error
from tollgate.v1 import common_pb2, orchestrator_pb2

# The SDK no longer declares the sampling parameters, but callers still send them; they travel in
# the request body as before.
_SAMPLING_PARAMS = ("temperature", "top_p", "top_k")


def _with_sampling_in_extra_body(params: dict[str, Any]) -> dict[str, Any]:
    sampling = {name: params.pop(name) for name in _SAMPLING_PARAMS if name in params}
    if sampling:
        params["extra_body"] = sampling
    return params


class Generator:
    def __init__(self, client: anthropic.AsyncAnthropic, prices: PriceTable, settings: Settings):
        self._client = client
        self._prices = prices
        self._settings = settings

    def _params(self, spec: orchestrator_pb2.GenerationSpec) -> dict[str, Any]:
        request = common_pb2.ClaudeRequest()
        request.CopyFrom(spec.request)
        request.model = choose_model(
            spec.request,
            spec.context.task,
            self._settings.task_models,
            self._settings.default_model,
        )
        return _with_sampling_in_extra_body(request_to_params(request))

    def _timeout(self, deadline_seconds: float | None) -> float:
        if deadline_seconds is None:
            return self._settings.request_timeout_seconds
        return max(0.001, min(deadline_seconds, self._settings.request_timeout_seconds))

    def _result(self, response: common_pb2.ClaudeResponse) -> orchestrator_pb2.GenerationResult:
        return orchestrator_pb2.GenerationResult(
            response=response,
            cost=self._prices.cost(response.model, response.usage),
            upstream_attempts=1,
        )

    async def generate(
        self, spec: orchestrator_pb2.GenerationSpec, deadline_seconds: float | None
    ) -> orchestrator_pb2.GenerationResult:
        params = self._params(spec)
        try:
            message = await self._client.messages.create(
                **params,
                timeout=self._timeout(deadline_seconds),
            )
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc
        return self._result(response_from_json(message.model_dump()))

    async def stream(
        self, spec: orchestrator_pb2.GenerationSpec, deadline_seconds: float | None
    ) -> AsyncIterator[orchestrator_pb2.StreamGenerateResponse]:
        """Yields each event as Claude sends it, then the result. Closing the iterator (the caller
        cancelled) closes the HTTP response, which stops generation upstream."""
        params = self._params(spec)
        assembler = StreamAssembler()
        try:
            upstream = await self._client.messages.create(
                **params,
                stream=True,
                timeout=self._timeout(deadline_seconds),
            )
            async with upstream:
                async for raw in upstream:
                    event = stream_event_from_json(raw.model_dump())
                    if event is None:
                        continue
                    assembler.add(event)
                    yield orchestrator_pb2.StreamGenerateResponse(event=event)
        except anthropic.APIError as exc:
            raise map_upstream_error(exc) from exc
        yield orchestrator_pb2.StreamGenerateResponse(result=self._result(assembler.response))
