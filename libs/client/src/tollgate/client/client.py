"""TollgateClient: complete and stream Claude requests through the gateway."""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterable, Mapping
from dataclasses import dataclass
from types import TracebackType
from typing import Any

import grpc

from tollgate.client.errors import TollgateError
from tollgate.client.tls import ClientTls
from tollgate.common.anthropic_format import request_from_params
from tollgate.common.channels import TracedChannel, channel_options
from tollgate.v1 import common_pb2, gateway_pb2, gateway_pb2_grpc


def _text_of(blocks: Iterable[common_pb2.ContentBlock]) -> str:
    return "".join(b.text.text for b in blocks if b.WhichOneof("block") == "text")


@dataclass(frozen=True)
class CompletionResult:
    response: common_pb2.ClaudeResponse
    account: common_pb2.Account

    @property
    def text(self) -> str:
        return _text_of(self.response.content)


class CompletionStream:
    """Iterate to receive StreamEvents as Claude writes; `account` is set once the stream ends."""

    def __init__(self, call: Any) -> None:
        self._call = call
        self.account: common_pb2.Account | None = None

    async def __aiter__(self) -> AsyncIterator[common_pb2.StreamEvent]:
        try:
            async for item in self._call:
                if item.HasField("account"):
                    self.account = item.account
                else:
                    yield item.event
        except grpc.aio.AioRpcError as exc:
            raise TollgateError.from_rpc_error(exc) from exc

    async def text(self) -> str:
        """Consume the stream and return the answer's text."""
        parts = []
        async for event in self:
            if event.WhichOneof("event") == "content_block_delta":
                parts.append(event.content_block_delta.text)
        return "".join(parts)

    def cancel(self) -> None:
        self._call.cancel()


_TASKS = {
    "chat": common_pb2.TASK_TYPE_CHAT,
    "lead_analysis": common_pb2.TASK_TYPE_LEAD_ANALYSIS,
    "report": common_pb2.TASK_TYPE_REPORT,
    "script": common_pb2.TASK_TYPE_SCRIPT,
    "intervention": common_pb2.TASK_TYPE_INTERVENTION,
    "classification": common_pb2.TASK_TYPE_CLASSIFICATION,
}


class TollgateClient:
    def __init__(
        self, target: str, api_key: str, *, timeout: float = 120.0, tls: ClientTls | None = None
    ) -> None:
        """`tls`: call the gateway over TLS (verifying its certificate, optionally presenting
        a client certificate); None: plaintext, for a gateway on loopback or behind a proxy."""
        # Every call carries the caller's trace context to the gateway (with a client span
        # while spans are exported).
        if tls is None:
            channel = grpc.aio.insecure_channel(target, options=channel_options())
        else:
            channel = grpc.aio.secure_channel(target, tls.credentials(), options=channel_options())
        self._channel: grpc.aio.Channel = TracedChannel(channel)
        self._stub = gateway_pb2_grpc.GatewayServiceStub(self._channel)
        self._metadata = (("authorization", f"Bearer {api_key}"),)
        self._timeout = timeout

    async def __aenter__(self) -> TollgateClient:
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        tb: TracebackType | None,
    ) -> None:
        await self.close()

    async def close(self) -> None:
        await self._channel.close()

    @property
    def stub(self) -> gateway_pb2_grpc.GatewayServiceStub:
        """The raw gRPC stub, for calls this client has no helper for."""
        return self._stub

    @property
    def metadata(self) -> tuple[tuple[str, str], ...]:
        return self._metadata

    def call_metadata(self, request_id: str = "") -> tuple[tuple[str, str], ...]:
        """The key and the request id, so the gateway logs the id even when it refuses the
        request. (The channel adds the caller's trace context to every call.)"""
        if not request_id:
            return self._metadata
        return (*self._metadata, ("x-request-id", request_id))

    @staticmethod
    def completion(
        *,
        messages: Iterable[Mapping[str, Any]],
        max_tokens: int,
        model: str = "",
        system: str | Iterable[Mapping[str, Any]] | None = None,
        task: str = "chat",
        contact_id: str = "",
        conversation_id: str = "",
        request_id: str = "",
        template_variables: Mapping[str, str] | None = None,
        tags: Iterable[str] = (),
        cache: gateway_pb2.CachePreference | None = None,
        agent_id: str = "",
        session_id: str = "",
        **params: Any,
    ) -> gateway_pb2.Completion:
        """A Completion from Anthropic-style arguments (`tools`, `temperature`, ... in params).
        `cache`: bypass or refresh the caches, a TTL, caching a sampled answer. `agent_id`: the
        tenant's agent whose stored profile fits the answer to them. `session_id`: append this turn
        to the stored conversation (`messages` holds only the new turn)."""
        if task not in _TASKS:
            raise ValueError(f"unknown task {task!r}; known: {sorted(_TASKS)}")
        body: dict[str, Any] = {
            "model": model,
            "max_tokens": max_tokens,
            "messages": list(messages),
            **params,
        }
        if system is not None:
            body["system"] = system
        return gateway_pb2.Completion(
            request=request_from_params(body),
            task=_TASKS[task],
            contact_id=contact_id,
            conversation_id=conversation_id,
            request_id=request_id,
            template_variables=dict(template_variables or {}),
            tags=list(tags),
            cache=cache,
            agent_id=agent_id,
            session_id=session_id,
        )

    async def complete(self, *, timeout: float | None = None, **kwargs: Any) -> CompletionResult:
        """One answer and its account. Arguments as for `completion(...)`."""
        request = gateway_pb2.CompleteRequest(completion=self.completion(**kwargs))
        metadata = self.call_metadata(request.completion.request_id)
        try:
            reply = await self._stub.Complete(
                request, metadata=metadata, timeout=timeout or self._timeout
            )
        except grpc.aio.AioRpcError as exc:
            raise TollgateError.from_rpc_error(exc) from exc
        return CompletionResult(reply.response, reply.account)

    def stream(self, *, timeout: float | None = None, **kwargs: Any) -> CompletionStream:
        """A streamed answer. Arguments as for `completion(...)`."""
        request = gateway_pb2.StreamCompleteRequest(completion=self.completion(**kwargs))
        call = self._stub.StreamComplete(
            request,
            metadata=self.call_metadata(request.completion.request_id),
            timeout=timeout or self._timeout,
        )
        return CompletionStream(call)
