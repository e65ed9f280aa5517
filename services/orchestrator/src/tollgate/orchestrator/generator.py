"""One generation against the Anthropic API through the official SDK, unary or streamed.

Turns a GenerationSpec into Messages API parameters (template, routed model, prompt-cache
breakpoints for that model) and makes the call through the ResilientCaller, which owns retries,
concurrency, circuit breakers and fallbacks. Cost is computed from the usage Claude reports,
cache reads and writes included.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

import anthropic

from tollgate.common.agent_profiles import LABEL as PROFILE_LABEL
from tollgate.common.agent_profiles import check_profile, profile_block
from tollgate.common.anthropic_format import request_to_params, response_from_json
from tollgate.common.errors import invalid_argument, unavailable
from tollgate.common.pricing import PriceTable
from tollgate.orchestrator.deadline import Deadline
from tollgate.orchestrator.messages_client import EventStream, MessagesClient
from tollgate.orchestrator.prompt_cache import place_breakpoints
from tollgate.orchestrator.resilience import ResilientCaller
from tollgate.orchestrator.retry import classify
from tollgate.orchestrator.routing import model_chain, task_name
from tollgate.orchestrator.settings import Settings
from tollgate.orchestrator.stream_assembly import StreamAssembler
from tollgate.orchestrator.templates import TemplateLibrary
from tollgate.orchestrator.upstream_errors import map_upstream_error
from tollgate.v1 import common_pb2, orchestrator_pb2

# The SDK no longer declares the sampling parameters, but callers still send them; they travel in
# the request body as before.
_SAMPLING_PARAMS = ("temperature", "top_p", "top_k")

_TTL_BY_NAME = {"5m": common_pb2.CACHE_TTL_5M, "1h": common_pb2.CACHE_TTL_1H}


def _with_sampling_in_extra_body(params: dict[str, Any]) -> dict[str, Any]:
    sampling = {name: params.pop(name) for name in _SAMPLING_PARAMS if name in params}
    if sampling:
        params["extra_body"] = sampling
    return params


@dataclass(frozen=True)
class PreparedRequest:
    """A spec resolved once: the request with its template applied, and the models to try."""

    request: common_pb2.ClaudeRequest
    chain: list[str]
    template_version: str
    prompt_caching: bool
    cache_ttl: common_pb2.CacheTtl
    # System blocks before the agent profile block (0: no profile block).
    shared_system_blocks: int = 0
    # Messages of an optimized conversation that the next turn resends unchanged (0: unknown).
    stable_prefix_messages: int = 0


@dataclass(frozen=True)
class ModelCall:
    """The Messages API parameters for one model of the chain."""

    params: dict[str, Any]
    cache_breakpoints: int


class Generator:
    def __init__(
        self,
        messages: MessagesClient,
        prices: PriceTable,
        settings: Settings,
        templates: TemplateLibrary,
        caller: ResilientCaller,
    ):
        self._messages = messages
        self._prices = prices
        self._settings = settings
        self._templates = templates
        self._caller = caller

    def prepare(self, spec: orchestrator_pb2.GenerationSpec) -> PreparedRequest:
        """Everything that can be refused is checked here, before any upstream call."""
        request = common_pb2.ClaudeRequest()
        request.CopyFrom(spec.request)
        template_version = ""
        if spec.apply_template or spec.template_variables:
            template = self._templates.for_task(task_name(spec.context.task))
            text = template.render(dict(spec.template_variables))
            request.system.insert(0, common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text)))
            template_version = template.label
        shared_system_blocks = 0
        if spec.HasField("agent_profile"):
            # Last, after the shared instructions (template, the caller's system prompt), with a
            # breakpoint before it (prompt_cache.py): every agent of the tenant reads the same
            # cached prefix and only this block differs between agents.
            check_profile(spec.agent_profile, "spec.agent_profile")
            shared_system_blocks = len(request.system)
            request.system.append(profile_block(spec.agent_profile))
            template_version = "+".join(filter(None, (template_version, PROFILE_LABEL)))
        chain = model_chain(request, spec.context, self._settings)
        if not self._prices.knows(chain[0]):
            raise invalid_argument(
                f"Tollgate does not serve the model {chain[0]!r}; "
                f"choose one of {', '.join(self._prices.models)}.",
                "spec.request.model",
            )
        chain = [chain[0], *(model for model in chain[1:] if self._prices.knows(model))]
        if spec.stable_prefix_messages > len(request.messages):
            raise invalid_argument(
                f"stable_prefix_messages is {spec.stable_prefix_messages} but the request has "
                f"only {len(request.messages)} messages; it counts the request's first messages "
                "that the next turn sends again unchanged.",
                "spec.stable_prefix_messages",
            )
        ttl = spec.prompt_cache_ttl or _TTL_BY_NAME[self._settings.prompt_cache_default_ttl]
        return PreparedRequest(
            request,
            chain,
            template_version,
            spec.prompt_caching,
            ttl,
            shared_system_blocks,
            spec.stable_prefix_messages,
        )

    def call_for(self, prepared: PreparedRequest, model: str) -> ModelCall:
        request = common_pb2.ClaudeRequest()
        request.CopyFrom(prepared.request)
        request.model = model
        breakpoints = 0
        if prepared.prompt_caching:
            minimum = self._prices.price(model).min_cacheable_tokens
            breakpoints = place_breakpoints(
                request,
                minimum,
                prepared.cache_ttl,
                shared_system_blocks=prepared.shared_system_blocks,
                stable_messages=prepared.stable_prefix_messages,
            )
        return ModelCall(_with_sampling_in_extra_body(request_to_params(request)), breakpoints)

    def _timeout(self, remaining: float) -> float:
        return max(0.001, min(remaining, self._settings.request_timeout_seconds))

    def _result(
        self,
        response: common_pb2.ClaudeResponse,
        model: str,
        attempts: int,
        fallback_reason: str,
        prepared: PreparedRequest,
        breakpoints: int,
    ) -> orchestrator_pb2.GenerationResult:
        return orchestrator_pb2.GenerationResult(
            response=response,
            # Priced as the model we asked for: the API may answer with a dated alias of it.
            cost=self._prices.cost(model, response.usage),
            fallback_reason=fallback_reason,
            upstream_attempts=attempts,
            template_version=prepared.template_version,
            cache_breakpoints=breakpoints,
        )

    def _deadline(self, deadline_seconds: float | None) -> Deadline:
        return Deadline.from_remaining(deadline_seconds, self._settings.request_timeout_seconds)

    async def generate(
        self, spec: orchestrator_pb2.GenerationSpec, deadline_seconds: float | None
    ) -> orchestrator_pb2.GenerationResult:
        prepared = self.prepare(spec)
        breakpoints: dict[str, int] = {}

        async def attempt(model: str, remaining: float) -> bytes:
            call = self.call_for(prepared, model)
            breakpoints[model] = call.cache_breakpoints
            # The SDK stays the HTTP client (errors, headers, timeouts); the raw body skips
            # building the SDK's models, which it is then parsed into protobuf from anyway.
            return await self._messages.create(call.params, self._timeout(remaining))

        outcome = await self._caller.call_holding(
            prepared.chain, self._deadline(deadline_seconds), attempt
        )
        outcome.lease.finish(None)
        response = response_from_json(json.loads(outcome.value))
        return self._result(
            response,
            outcome.model,
            outcome.attempts,
            outcome.fallback_reason,
            prepared,
            breakpoints[outcome.model],
        )

    async def stream(
        self, spec: orchestrator_pb2.GenerationSpec, deadline_seconds: float | None
    ) -> AsyncIterator[orchestrator_pb2.StreamGenerateResponse]:
        """Yields each event as Claude sends it, then the result.

        Opening the stream is retried and may fall back like a unary call (nothing has reached
        the caller yet); once events flow, a failure ends the call. The gRPC server pulls one
        event at a time, so a slow reader slows the upstream read (backpressure), and closing
        this iterator (the caller cancelled) closes the HTTP response, which stops generation
        upstream.
        """
        prepared = self.prepare(spec)
        breakpoints: dict[str, int] = {}

        async def attempt(model: str, remaining: float) -> EventStream:
            call = self.call_for(prepared, model)
            breakpoints[model] = call.cache_breakpoints
            return await self._messages.stream(call.params, self._timeout(remaining))

        outcome = await self._caller.call_holding(
            prepared.chain, self._deadline(deadline_seconds), attempt
        )
        assembler = StreamAssembler()
        failure: BaseException | None = None
        try:
            async with outcome.value as upstream:
                async for event in upstream:
                    assembler.add(event)
                    yield orchestrator_pb2.StreamGenerateResponse(event=event)
        except anthropic.APIError as exc:
            failure = exc
            raise _stream_failure(exc) from exc
        except BaseException as exc:
            failure = exc
            raise
        finally:
            outcome.lease.finish(failure)
        yield orchestrator_pb2.StreamGenerateResponse(
            result=self._result(
                assembler.response,
                outcome.model,
                outcome.attempts,
                outcome.fallback_reason,
                prepared,
                breakpoints[outcome.model],
            )
        )


def _stream_failure(exc: anthropic.APIError) -> Exception:
    if isinstance(exc, anthropic.APIStatusError | anthropic.APIConnectionError):
        return map_upstream_error(exc)
    return unavailable(
        f"Claude's answer broke off mid-stream ({classify(exc).value}); try again shortly."
    )
