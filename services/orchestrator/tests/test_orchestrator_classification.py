"""ClassifyItems: packing, per-item validation and re-asks, per-item accounting, refusals."""

from __future__ import annotations

import json
from collections.abc import Callable
from typing import Any

import grpc
import pytest
from google.protobuf import json_format

from tollgate.common.classification import AnswerRule
from tollgate.emulator.server import EmulatorServer
from tollgate.orchestrator.classification.packing import (
    PackLimits,
    items_per_call,
    max_tokens_for,
    pack,
    tool,
)
from tollgate.v1 import classification_pb2, common_pb2, orchestrator_pb2

from .conftest import StartOrchestrator, Stub

LABELS = ["buyer", "seller", "renter", "investor"]
TEXTS = [
    "Looking for a two-bedroom condo near Lakeview under 400k.",
    "As the seller, I want to list our house on Elm Street this spring.",
    "Any apartments to rent near the university? I am a renter.",
    "Cash investor looking for duplexes with good cap rates.",
    "Moving in June, need a 3-bed with a yard in Cedar Park.",
    "Can you value my condo before I list it?",
    "Relocating for work, budget 650k, pre-approved.",
]


def _request(
    texts: list[str] = TEXTS, *, tenant: str = "tenant-a", per_call: int = 0, **instructions: Any
) -> orchestrator_pb2.ClassifyItemsRequest:
    spec = instructions or {"labels": classification_pb2.LabelSet(labels=LABELS)}
    return orchestrator_pb2.ClassifyItemsRequest(
        context=common_pb2.RequestContext(tenant_id=tenant, request_id="run-1"),
        instructions=classification_pb2.ClassificationInstructions(
            prompt="The lead's role in this CRM note.", version="v1", **spec
        ),
        items=[
            classification_pb2.ClassificationItem(id=f"n{i}", text=t) for i, t in enumerate(texts)
        ],
        max_items_per_call=per_call,
    )


async def _run(stub: Stub, request: orchestrator_pb2.ClassifyItemsRequest) -> dict[str, Any]:
    return {reply.result.item_id: reply.result async for reply in stub.ClassifyItems(request)}


async def test_packed_answers_equal_one_by_one_with_fewer_calls(
    orchestrator: Stub, upstream_calls: Callable[[], list[Any]]
) -> None:
    packed = await _run(orchestrator, _request(per_call=5))
    packed_calls = len(upstream_calls())
    single = await _run(orchestrator, _request(per_call=1))
    assert packed_calls == 2  # 7 items, 5 to a call
    assert len(upstream_calls()) - packed_calls == len(TEXTS)
    assert {k: r.label for k, r in packed.items()} == {k: r.label for k, r in single.items()}
    assert all(r.label in LABELS and r.calls == 1 for r in packed.values())
    assert packed["n1"].label == "seller"
    # The items' shares add up to exactly what the calls cost.
    billed = sum(call.usage["output_tokens"] for call in upstream_calls()[:packed_calls])
    assert sum(r.usage.output_tokens for r in packed.values()) == billed
    assert sum(r.cost.total_micros for r in packed.values()) < sum(
        r.cost.total_micros for r in single.values()
    )


async def test_schema_answers_are_checked_and_returned_as_json(orchestrator: Stub) -> None:
    schema = {
        "type": "object",
        "properties": {
            "intent": {"type": "string", "enum": ["buy", "sell"]},
            "urgency": {"type": "integer", "minimum": 1, "maximum": 5},
        },
        "required": ["intent", "urgency"],
    }
    results = await _run(orchestrator, _request(TEXTS[:3], json_schema=json.dumps(schema)))
    for result in results.values():
        value = json.loads(result.result_json)
        assert value["intent"] in ("buy", "sell")
        assert 1 <= value["urgency"] <= 5


@pytest.fixture
async def scripted_emulator(emulator: EmulatorServer) -> EmulatorServer:
    # The item naming "scripted-bad" always gets a label outside the set; the one naming
    # "scripted-gap" is left out of every answer.
    emulator.config.scripted_answers.update(
        {"scripted-bad": '{"label": "astronaut"}', "scripted-gap": "null"}
    )
    return emulator


async def test_only_invalid_items_are_asked_again_then_failed_with_a_reason(
    scripted_emulator: EmulatorServer,
    orchestrator: Stub,
    upstream_calls: Callable[[], list[Any]],
) -> None:
    texts = [*TEXTS[:3], "A scripted-bad note.", "A scripted-gap note."]
    results = await _run(orchestrator, _request(texts, per_call=10))
    calls = upstream_calls()
    assert len(calls) == 3  # the first ask, then two re-asks
    asked = [call.body["messages"][0]["content"][0]["text"] for call in calls]
    assert all(text in asked[0] for text in texts)
    for reask in asked[1:]:
        assert "scripted-bad" in reask
        assert "scripted-gap" in reask
        assert not any(text in reask for text in texts[:3])
    assert "not one of the labels" in results["n3"].error
    assert "3 attempts" in results["n3"].error
    assert "no entry for this item" in results["n4"].error
    assert results["n3"].calls == 3
    assert results["n0"].calls == 1
    assert all(results[f"n{i}"].label for i in range(3))


@pytest.mark.parametrize(
    ("request_", "fragment"),
    [
        (_request([]), "no items"),
        (_request(["x" * 20_001]), "at most 20000"),
        (_request(json_schema="{not json"), "not valid JSON"),
        (_request(json_schema='{"type": "nonsense"}'), "not a valid schema"),
        (_request(labels=classification_pb2.LabelSet(labels=["a", "a"])), "repeat"),
        (_request(per_call=51), "at most 50"),
        (_request(tenant=""), "tenant"),
    ],
)
async def test_bad_requests_are_refused_before_any_call(
    orchestrator: Stub,
    upstream_calls: Callable[[], list[Any]],
    request_: orchestrator_pb2.ClassifyItemsRequest,
    fragment: str,
) -> None:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _run(orchestrator, request_)
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert fragment in (caught.value.details() or "")
    assert upstream_calls() == []


async def test_the_prompt_and_tool_are_built_once_per_distinct_instructions(
    scripted_emulator: EmulatorServer,
    orchestrator: Stub,
    upstream_calls: Callable[[], list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """Every pack and re-ask of a run, and every later run with the same instructions, sends
    the same system prompt and tool, built once; other instructions get their own."""
    from tollgate.orchestrator.classification import classifier

    built: list[tuple[str, ...]] = []
    real_tool = classifier.tool

    def counting_tool(rule: AnswerRule) -> common_pb2.Tool:
        built.append(rule.labels)
        return real_tool(rule)

    monkeypatch.setattr(classifier, "tool", counting_tool)
    texts = [*TEXTS, "A scripted-bad note."]
    for _ in range(2):
        await _run(orchestrator, _request(texts, per_call=3))
    calls = upstream_calls()
    assert len(calls) > 3 * 2  # three packs a run, and re-asks of the scripted item
    assert built == [tuple(LABELS)]
    assert len({json.dumps([c.body["system"], c.body["tools"]]) for c in calls}) == 1
    other = classification_pb2.LabelSet(labels=["hot", "cold"])
    await _run(orchestrator, _request(TEXTS[:2], labels=other))
    assert built == [tuple(LABELS), ("hot", "cold")]
    assert (
        upstream_calls()[-1].body["tools"][0]["input_schema"]
        != calls[0].body["tools"][0]["input_schema"]
    )


async def test_long_items_travel_in_smaller_packs(
    start_orchestrator: StartOrchestrator,
    upstream_calls: Callable[[], list[Any]],
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv("TOLLGATE_ORCHESTRATOR_CLASSIFICATION_MAX_ITEM_TOKENS_PER_CALL", "600")
    stub = await start_orchestrator()
    long_text = "The buyer wants a quiet street near good schools. " * 40
    results = await _run(stub, _request([long_text] * 4 + TEXTS[:4], per_call=10))
    assert all(r.label for r in results.values())
    sizes = [
        call.body["messages"][0]["content"][0]["text"].count("<item ") for call in upstream_calls()
    ]
    # About 440 tokens each, two long items never share a call: four calls, not one.
    assert sorted(sizes) == [1, 1, 1, 5]


async def test_packs_share_the_models_adaptive_limit_when_claude_answers_429(
    emulator: EmulatorServer,
    start_orchestrator: StartOrchestrator,
) -> None:
    from tollgate.emulator.config import LatencyConfig

    # Claude takes two calls at a time and answers 429 (retry after 50 ms) beyond that; 20
    # packs arrive at once, at an orchestrator that starts with 8 in flight.
    emulator.config.max_concurrency = 2
    emulator.config.retry_after_s = 0.05
    emulator.config.latency = LatencyConfig(ttft_ms=40)
    texts = [f"{TEXTS[i % len(TEXTS)]} (note {i})" for i in range(40)]

    async def throttled(**limits: int) -> tuple[int, dict[str, Any]]:
        emulator.reset()
        stub = await start_orchestrator(concurrency_initial=8, **limits)
        results = await _run(stub, _request(texts, per_call=2))
        return emulator.stats.status_counts[429], results

    adaptive_429s, results = await throttled()
    fixed_429s, _ = await throttled(concurrency_min=8, concurrency_max=8)
    assert len(results) == 40
    assert all(r.label in LABELS for r in results.values())
    assert emulator.stats.status_counts[200] >= 1
    # The limit came down after the first bursts: fewer 429s than a fixed limit of 8.
    assert 0 < adaptive_429s < fixed_429s


def _rule(**answer: Any) -> AnswerRule:
    return AnswerRule(classification_pb2.ClassificationInstructions(**answer))


def _items(*sizes: int) -> list[classification_pb2.ClassificationItem]:
    return [
        classification_pb2.ClassificationItem(id=f"i{n}", text="word " * size)
        for n, size in enumerate(sizes)
    ]


def test_k_is_the_callers_cap_cut_by_the_output_limit() -> None:
    labels = _rule(labels=classification_pb2.LabelSet(labels=LABELS))
    roomy = PackLimits(max_items=10, max_item_tokens=12000, max_output_tokens=4096)
    assert items_per_call(labels, roomy) == 10
    # A large answer schema: fewer answers fit the same output limit.
    wide = {"type": "object", "properties": {f"field_{n}": {"type": "string"} for n in range(60)}}
    large = _rule(json_schema=json.dumps(wide))
    assert 1 <= items_per_call(large, roomy) < 10
    tight = PackLimits(max_items=10, max_item_tokens=12000, max_output_tokens=256)
    assert items_per_call(labels, tight) < 10
    assert max_tokens_for(labels, 10, tight) == 256


def test_packs_keep_order_and_close_on_item_text() -> None:
    labels = _rule(labels=classification_pb2.LabelSet(labels=LABELS))
    limits = PackLimits(max_items=3, max_item_tokens=300, max_output_tokens=4096)
    # About 12, 109, 271 and 433 tokens: three short ones fill a pack by count; 109 + 271 passes
    # 300; an item over the limit travels alone.
    packs = pack(_items(10, 10, 10, 100, 250, 10, 400, 10), labels, limits)
    assert [[item.id for item in p] for p in packs] == [
        ["i0", "i1", "i2"],
        ["i3"],
        ["i4", "i5"],
        ["i6"],
        ["i7"],
    ]


def test_the_callers_schema_definitions_still_resolve_inside_the_tool() -> None:
    schema = {
        "$defs": {"intent": {"type": "string", "enum": ["buy", "sell"]}},
        "type": "object",
        "properties": {"intent": {"$ref": "#/$defs/intent"}},
        "required": ["intent"],
    }
    rule = _rule(json_schema=json.dumps(schema))
    tool_schema = json.loads(json_format.MessageToJson(tool(rule).input_schema))
    assert tool_schema["$defs"] == schema["$defs"]
    entry = tool_schema["properties"]["answers"]["items"]["properties"]["result"]
    assert entry["properties"]["intent"] == {"$ref": "#/$defs/intent"}
    assert "$defs" not in entry
    assert rule.judge({"result": {"intent": "buy"}}).valid
    assert not rule.judge({"result": {"intent": "rent"}}).valid
