"""Packed classification: items packed k to a call, answered through a forced tool call, each
entry judged on its own, only the missing or invalid ones asked again.

Every call goes through the Generator, so routing, the AIMD limiter, retries honouring
retry-after, the circuit breaker and fallbacks apply to each pack exactly as to any generation.
Packs run concurrently (up to `packs_in_flight`); an item's result is sent as soon as it is
settled, in whatever order packs finish.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator, Callable, Sequence
from dataclasses import dataclass
from typing import Any

from tollgate.common.classification import (
    AnswerRule,
    Verdict,
    check_instructions,
    check_items,
    check_max_items_per_call,
)
from tollgate.common.errors import ServiceError, invalid_argument
from tollgate.common.lru import LruCache
from tollgate.common.token_estimate import struct_to_python
from tollgate.orchestrator.classification.packing import (
    ANSWERS_FIELD,
    TOOL_NAME,
    PackLimits,
    answer_rule_sentence,
    items_message,
    max_tokens_for,
    pack,
    tool,
)
from tollgate.orchestrator.classification.settings import ClassificationSettings
from tollgate.orchestrator.classification.shares import ItemAccount, charge
from tollgate.orchestrator.generator import Generator
from tollgate.orchestrator.templates import TemplateLibrary
from tollgate.v1 import classification_pb2, common_pb2, orchestrator_pb2

log = logging.getLogger("tollgate.orchestrator.classification")

TEMPLATE_TASK = "packed_classification"
Item = classification_pb2.ClassificationItem
Remaining = Callable[[], float | None]
# Distinct instructions whose framing is kept between runs: a bulk job sends the same
# instructions in many ClassifyItems calls (the gateway's chunks), each cut into many packs.
FRAMINGS_KEPT = 64
# What a framing depends on: the prompt, the label set, the JSON schema (one of the two is empty).
FramingKey = tuple[str, tuple[str, ...], str]


@dataclass(frozen=True)
class _Framing:
    """The parts of every call that depend on the instructions alone, not on the pack: the
    rendered system prompt and the answer tool. Protobuf copies them into each request."""

    system: common_pb2.ContentBlock
    tool: common_pb2.Tool


def _entries(response: common_pb2.ClaudeResponse) -> dict[str, Any]:
    """The tool's entries by item_id (the first entry of an id counts)."""
    found: dict[str, Any] = {}
    for block in response.content:
        if block.WhichOneof("block") != "tool_use" or block.tool_use.name != TOOL_NAME:
            continue
        answers = struct_to_python(block.tool_use.input).get(ANSWERS_FIELD)
        for entry in answers if isinstance(answers, list) else []:
            if isinstance(entry, dict):
                found.setdefault(str(entry.get("item_id", "")), entry)
    return found


def _missing_reason(response: common_pb2.ClaudeResponse) -> str:
    if response.stop_reason == common_pb2.STOP_REASON_MAX_TOKENS:
        return "the answer was cut off before this item (max_tokens)"
    return "the answer had no entry for this item"


class PackedClassifier:
    def __init__(
        self,
        generator: Generator,
        templates: TemplateLibrary,
        settings: ClassificationSettings,
    ) -> None:
        self._generator = generator
        # Looked up per request: a custom templates directory without it refuses classification,
        # not the orchestrator's start.
        self._templates = templates
        self._settings = settings
        self._framings: LruCache[FramingKey, _Framing] = LruCache(FRAMINGS_KEPT)

    def _framing(
        self, instructions: classification_pb2.ClassificationInstructions, rule: AnswerRule
    ) -> _Framing:
        """Built once per distinct instructions, not for every pack and re-ask."""
        key = (instructions.prompt, rule.labels, instructions.json_schema)
        framing = self._framings.get(key)
        if framing is None:
            system = self._templates.for_task(TEMPLATE_TASK).render(
                {
                    "instructions": instructions.prompt or "(no further instructions)",
                    "answer_rule": answer_rule_sentence(rule),
                }
            )
            framing = _Framing(
                system=common_pb2.ContentBlock(text=common_pb2.TextBlock(text=system)),
                tool=tool(rule),
            )
            self._framings.put(key, framing)
        return framing

    def _limits(self, asked: int) -> PackLimits:
        return PackLimits(
            max_items=asked or self._settings.max_items_per_call,
            max_item_tokens=self._settings.max_item_tokens_per_call,
            max_output_tokens=self._settings.max_output_tokens_per_call,
        )

    def _spec(
        self,
        request: orchestrator_pb2.ClassifyItemsRequest,
        rule: AnswerRule,
        items: Sequence[Item],
        limits: PackLimits,
    ) -> orchestrator_pb2.GenerationSpec:
        framing = self._framing(request.instructions, rule)
        claude = common_pb2.ClaudeRequest(
            model=request.instructions.model,
            max_tokens=max_tokens_for(rule, len(items), limits),
            temperature=0.0,
            system=[framing.system],
            messages=[items_message(items)],
            tools=[framing.tool],
            tool_choice=common_pb2.ToolChoice(
                type=common_pb2.TOOL_CHOICE_TYPE_TOOL, name=TOOL_NAME
            ),
        )
        context = common_pb2.RequestContext()
        context.CopyFrom(request.context)
        context.task = common_pb2.TASK_TYPE_CLASSIFICATION
        return orchestrator_pb2.GenerationSpec(context=context, request=claude)

    def check(self, request: orchestrator_pb2.ClassifyItemsRequest) -> AnswerRule:
        """Refuse a request that cannot be answered, before any call."""
        if not request.context.tenant_id:
            raise invalid_argument(
                "Classification belongs to a tenant; context.tenant_id is empty.", "context"
            )
        rule = check_instructions(request.instructions)
        check_items(request.items)
        check_max_items_per_call(request.max_items_per_call)
        limits = self._limits(request.max_items_per_call)
        self._generator.prepare(self._spec(request, rule, request.items[:1], limits))
        return rule

    async def classify(
        self, request: orchestrator_pb2.ClassifyItemsRequest, remaining: Remaining
    ) -> AsyncIterator[classification_pb2.ClassificationResult]:
        rule = self.check(request)
        limits = self._limits(request.max_items_per_call)
        results: asyncio.Queue[classification_pb2.ClassificationResult | None] = asyncio.Queue()
        gate = asyncio.Semaphore(self._settings.packs_in_flight)
        packs = pack(request.items, rule, limits)

        async def run(items: list[Item]) -> None:
            async with gate:
                await self._answer_pack(request, rule, limits, items, remaining, results.put_nowait)

        tasks = [asyncio.create_task(run(items)) for items in packs]
        done = asyncio.gather(*tasks)
        done.add_done_callback(lambda _: results.put_nowait(None))
        try:
            while (result := await results.get()) is not None:
                yield result
            await done
        finally:
            for task in tasks:
                task.cancel()

    async def _answer_pack(
        self,
        request: orchestrator_pb2.ClassifyItemsRequest,
        rule: AnswerRule,
        limits: PackLimits,
        items: list[Item],
        remaining: Remaining,
        send: Callable[[classification_pb2.ClassificationResult], None],
    ) -> None:
        accounts = {item.id: ItemAccount() for item in items}
        pending, reasons = list(items), {item.id: "" for item in items}
        for _ in range(self._settings.max_attempts):
            spec = self._spec(request, rule, pending, limits)
            try:
                generated = await self._generator.generate(spec, remaining())
            except ServiceError as exc:
                for item in pending:
                    send(
                        _result(
                            rule,
                            item,
                            accounts[item.id],
                            Verdict(error=f"the call failed: {exc.message}"),
                        )
                    )
                return
            response = generated.response
            charge(
                [accounts[i.id] for i in pending], response.usage, generated.cost, response.model
            )
            entries = _entries(response)
            still: list[Item] = []
            for position, item in enumerate(pending, start=1):
                entry = entries.get(str(position))
                verdict = (
                    Verdict(error=_missing_reason(response)) if entry is None else rule.judge(entry)
                )
                if verdict.valid:
                    send(_result(rule, item, accounts[item.id], verdict))
                else:
                    reasons[item.id] = verdict.error
                    still.append(item)
            pending = still
            if not pending:
                return
        for item in pending:
            error = (
                f"no valid answer after {self._settings.max_attempts} attempts: {reasons[item.id]}"
            )
            send(_result(rule, item, accounts[item.id], Verdict(error=error)))


def _result(
    rule: AnswerRule, item: Item, account: ItemAccount, verdict: Verdict
) -> classification_pb2.ClassificationResult:
    result = classification_pb2.ClassificationResult(
        item_id=item.id,
        calls=account.calls,
        usage=account.usage,
        cost=account.cost,
        model=account.model,
    )
    if not verdict.valid:
        result.error = verdict.error
    elif rule.labels:
        result.label = verdict.value
    else:
        result.result_json = verdict.value
    return result
