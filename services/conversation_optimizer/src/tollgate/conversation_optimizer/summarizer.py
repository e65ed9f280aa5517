"""Summaries of dropped chunks by a cheap model, through the orchestrator's Generate.

Each chunk of dropped exchanges is summarised on its own and cached (per tenant, by the chunk's
content), so a growing conversation needs one new summary per chunk and the same chunk always
gets the same summary from this replica: the note, and with it the prompt prefix, stays
byte-identical between turns.

Summaries are an extra, never a requirement: when the orchestrator is not configured, fails, or
does not answer within the time limit, the optimizer goes on without them.
"""

from __future__ import annotations

import asyncio
import hashlib
import logging
from collections.abc import Sequence

import grpc

from tollgate.common.channels import open_channel
from tollgate.common.lru import LruCache
from tollgate.common.token_estimate import canonical_json, struct_to_python
from tollgate.conversation_optimizer.metrics import optimizer_metrics
from tollgate.conversation_optimizer.optimizer import SummaryResult
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

log = logging.getLogger("tollgate.conversation_optimizer.summarizer")

PROMPT_VERSION = "summary@1"
SUMMARY_PROMPT = (
    "You condense part of a conversation between a client and an assistant so that the "
    "assistant can continue without it. Write at most a few short sentences in the third person "
    '("The client ...", "The assistant ..."): decisions made, questions still open, '
    "preferences and their reasons. Keep every amount, date, place and name exactly as written. "
    "No preamble, no bullet points."
)
# Tool output quoted in a transcript is cut to this many characters: the assistant's reply
# carries what mattered in it, and the summary model is paid per token.
TOOL_RESULT_CHARS = 400


def transcript(messages: Sequence[common_pb2.Message]) -> str:
    """The chunk as plain text, one line per block."""
    lines: list[str] = []
    for message in messages:
        speaker = "Client" if message.role == common_pb2.ROLE_USER else "Assistant"
        for block in message.content:
            kind = block.WhichOneof("block")
            if kind == "text":
                lines.append(f"{speaker}: {block.text.text}")
            elif kind == "tool_use":
                arguments = canonical_json(struct_to_python(block.tool_use.input))
                lines.append(f"Assistant called {block.tool_use.name} {arguments}")
            elif kind == "tool_result":
                texts = [
                    b.text.text
                    for b in block.tool_result.content
                    if b.WhichOneof("block") == "text"
                ]
                output = " ".join(texts)
                if len(output) > TOOL_RESULT_CHARS:
                    output = output[:TOOL_RESULT_CHARS] + " ..."
                lines.append(f"Tool result: {output}")
            elif kind == "image":
                lines.append(f"{speaker}: [image]")
    return "\n".join(lines)


def summary_key(tenant_id: str, model: str, max_tokens: int, text: str) -> str:
    digest = hashlib.sha256(
        "\x00".join([PROMPT_VERSION, model, str(max_tokens), text]).encode()
    ).hexdigest()
    return f"{tenant_id}\x00{digest}"


class OrchestratorSummarizer:
    """Summarises chunks with OrchestratorService.Generate; see the module docstring."""

    def __init__(
        self,
        address: str,
        model: str,
        timeout_seconds: float,
        cache_entries: int,
        max_message_bytes: int = 8 * 1024 * 1024,
        credentials: grpc.ChannelCredentials | None = None,
    ) -> None:
        self._address = address
        self._credentials = credentials
        self._model = model
        self._timeout = timeout_seconds
        self._cache: LruCache[str, str] = LruCache(cache_entries)
        self._max_message_bytes = max_message_bytes
        self._channel: grpc.aio.Channel | None = None
        self._stub: orchestrator_pb2_grpc.OrchestratorServiceStub | None = None

    @property
    def available(self) -> bool:
        return bool(self._address)

    async def start(self) -> None:
        if self._address and self._channel is None:
            self._channel = open_channel(
                self._address, self._max_message_bytes, credentials=self._credentials
            )
            self._stub = orchestrator_pb2_grpc.OrchestratorServiceStub(self._channel)

    async def close(self) -> None:
        if self._channel is not None:
            await self._channel.close()
            self._channel = None
            self._stub = None

    async def summarize(
        self,
        context: common_pb2.RequestContext,
        chunks: Sequence[Sequence[common_pb2.Message]],
        max_tokens: int,
    ) -> SummaryResult | None:
        counter = optimizer_metrics().summaries
        texts = [transcript(chunk) for chunk in chunks]
        keys = [summary_key(context.tenant_id, self._model, max_tokens, t) for t in texts]
        found: dict[int, str] = {}
        for i, key in enumerate(keys):
            cached = self._cache.get(key)
            if cached is not None:
                found[i] = cached
        if found:
            counter.add(len(found), {"outcome": "cached"})
        missing = [i for i in range(len(chunks)) if i not in found]
        cost = 0
        usage = common_pb2.Usage()
        if missing:
            if self._stub is None:
                return None
            generated = await self._generate_all(context, texts, missing, max_tokens)
            for i, (summary, micros, used) in generated.items():
                self._cache.put(keys[i], summary)
                found[i] = summary
                cost += micros
                usage.input_tokens += used.input_tokens
                usage.output_tokens += used.output_tokens
            if len(generated) < len(missing):
                # Not all summaries arrived: none is used, but those that did were paid for.
                return SummaryResult([], cost, usage, self._model)
        model = self._model if missing else ""
        return SummaryResult([found[i] for i in range(len(chunks))], cost, usage, model)

    async def _generate_all(
        self,
        context: common_pb2.RequestContext,
        texts: Sequence[str],
        indexes: Sequence[int],
        max_tokens: int,
    ) -> dict[int, tuple[str, int, common_pb2.Usage]]:
        """Summaries that arrived in time; the others are cancelled and logged."""
        counter = optimizer_metrics().summaries
        tasks = {
            asyncio.create_task(self._generate(context, texts[i], max_tokens, i)): i
            for i in indexes
        }
        done, pending = await asyncio.wait(tasks, timeout=self._timeout)
        for task in pending:
            task.cancel()
        generated: dict[int, tuple[str, int, common_pb2.Usage]] = {}
        failures: list[str] = ["timed out"] if pending else []
        for task in done:
            error = task.exception()
            if error is None:
                generated[tasks[task]] = task.result()
            else:
                failures.append(_reason(error))
        if generated:
            # Kept even when others failed: the next turn can use them.
            counter.add(len(generated), {"outcome": "generated"})
        if failures:
            counter.add(len(indexes) - len(generated), {"outcome": "failed"})
            log.warning(
                "chunk summaries skipped",
                extra={"reason": failures[0], "chunks": len(indexes), "tenant": context.tenant_id},
            )
        return generated

    async def _generate(
        self, context: common_pb2.RequestContext, text: str, max_tokens: int, index: int
    ) -> tuple[str, int, common_pb2.Usage]:
        assert self._stub is not None
        summary_context = common_pb2.RequestContext()
        summary_context.CopyFrom(context)
        summary_context.task = common_pb2.TASK_TYPE_CHAT
        if context.request_id:
            summary_context.request_id = f"{context.request_id}:summary:{index}"
        request = common_pb2.ClaudeRequest(
            model=self._model,
            max_tokens=max_tokens,
            system=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=SUMMARY_PROMPT))],
            messages=[
                common_pb2.Message(
                    role=common_pb2.ROLE_USER,
                    content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
                )
            ],
            temperature=0.0,
        )
        response = await self._stub.Generate(
            orchestrator_pb2.GenerateRequest(
                spec=orchestrator_pb2.GenerationSpec(context=summary_context, request=request)
            ),
            timeout=self._timeout,
        )
        result = response.result
        summary = " ".join(
            b.text.text for b in result.response.content if b.WhichOneof("block") == "text"
        ).strip()
        if not summary:
            raise ValueError("the orchestrator returned an empty summary")
        return " ".join(summary.split()), result.cost.total_micros, result.response.usage


def _reason(exc: BaseException) -> str:
    if isinstance(exc, grpc.aio.AioRpcError):
        return f"{exc.code().name}: {exc.details()}"
    if isinstance(exc, TimeoutError):
        return "timed out"
    return str(exc)
