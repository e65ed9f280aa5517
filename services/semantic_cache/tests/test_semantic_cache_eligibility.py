"""Which requests may be answered from the semantic cache, and the scope they share."""

from __future__ import annotations

from typing import Any

import pytest
from google.protobuf import struct_pb2

from tollgate.semantic_cache.eligibility import (
    EligibilityPolicy,
    Ineligible,
    Question,
    system_prompt_hash,
    task_name,
)
from tollgate.v1 import common_pb2

USER, ASSISTANT = common_pb2.ROLE_USER, common_pb2.ROLE_ASSISTANT


def policy(**overrides: Any) -> EligibilityPolicy:
    options: dict[str, Any] = {"count_tokens": lambda text: len(text.split()) + 2, "max_tokens": 64}
    options.update(overrides)
    return EligibilityPolicy(**options)


def evaluate(requests: Any, request: common_pb2.ClaudeRequest, **overrides: Any) -> Any:
    return policy(**overrides).evaluate(requests.context(), request, "v1")


def test_a_standalone_question_is_eligible_with_an_empty_context_digest(requests: Any) -> None:
    result = evaluate(requests, requests.question("  Is 12 Oak St   pet-friendly? "))
    assert isinstance(result, Question)
    assert result.text == "Is 12 Oak St pet-friendly?"
    assert result.scope.context_digest == ""
    assert result.scope.task == "chat"
    assert result.scope.template_version == "v1"
    assert result.max_tokens == 1024


def test_follow_ups_carry_a_digest_of_their_conversation(requests: Any) -> None:
    first = requests.question(
        "what about the second one?",
        history=((USER, "Show me condos in Austin"), (ASSISTANT, "1. 12 Oak St 2. 40 Elm St")),
    )
    other = requests.question(
        "what about the second one?",
        history=((USER, "Show me condos in Dallas"), (ASSISTANT, "1. 9 Main St 2. 3 Pine St")),
    )
    same = requests.question(
        "what about the second one?",
        history=((USER, "Show me condos in Austin"), (ASSISTANT, "1. 12 Oak St 2. 40 Elm St")),
    )
    a, b, c = (evaluate(requests, r) for r in (first, other, same))
    assert isinstance(a, Question)
    assert isinstance(b, Question)
    assert isinstance(c, Question)
    assert a.scope.context_digest
    assert a.scope.context_digest != b.scope.context_digest
    assert a.scope.key() != b.scope.key()
    assert a.scope.key() == c.scope.key()


def test_scope_separates_model_system_prompt_task_and_template(requests: Any) -> None:
    base = evaluate(requests, requests.question("Is it pet-friendly?"))
    assert isinstance(base, Question)
    variants = [
        evaluate(requests, requests.question("Is it pet-friendly?", model="claude-haiku-4-5")),
        evaluate(requests, requests.question("Is it pet-friendly?", system="Answer in French.")),
        policy().evaluate(
            requests.context(task=common_pb2.TASK_TYPE_REPORT),
            requests.question("Is it pet-friendly?"),
            "v1",
        ),
        policy().evaluate(requests.context(), requests.question("Is it pet-friendly?"), "v2"),
    ]
    keys = {base.scope.key()} | {v.scope.key() for v in variants if isinstance(v, Question)}
    assert len(keys) == 5


def test_cache_control_markers_do_not_change_the_system_hash() -> None:
    plain = [common_pb2.ContentBlock(text=common_pb2.TextBlock(text="Be brief."))]
    marked = [
        common_pb2.ContentBlock(
            text=common_pb2.TextBlock(text="Be brief."),
            cache_control=common_pb2.CacheControl(ttl=common_pb2.CACHE_TTL_1H),
        )
    ]
    assert system_prompt_hash(plain) == system_prompt_hash(marked)


def test_requests_offering_tools_are_not_eligible(requests: Any) -> None:
    request = requests.question("What's the weather at the listing?")
    request.tools.add(name="get_weather", input_schema=struct_pb2.Struct())
    result = evaluate(requests, request)
    assert isinstance(result, Ineligible)
    assert "tool use" in result.reason


def test_conversations_with_tool_calls_are_not_eligible(requests: Any) -> None:
    request = requests.question("And the one after that?")
    call = request.messages.add(role=ASSISTANT)
    call.content.add(tool_use=common_pb2.ToolUseBlock(id="t1", name="search"))
    result = request.messages.add(role=USER)
    result.content.add(tool_result=common_pb2.ToolResultBlock(tool_use_id="t1"))
    assert isinstance(evaluate(requests, request), Ineligible)


@pytest.mark.parametrize(
    ("mutate", "reason"),
    [
        (
            lambda r: r.messages.add(role=ASSISTANT).content.add(
                text=common_pb2.TextBlock(text="Su")
            ),
            "last message is not a user question",
        ),
        (
            lambda r: r.messages[-1].content.add(
                image=common_pb2.ImageBlock(media_type="image/png")
            ),
            "images",
        ),
        (lambda r: r.messages[-1].content[0].text.__setattr__("text", "   "), "empty"),
        (
            lambda r: r.messages[-1].content[0].text.__setattr__("text", "word " * 100),
            "longer than the 64 tokens",
        ),
    ],
)
def test_what_cannot_be_compared_is_not_eligible(requests: Any, mutate: Any, reason: str) -> None:
    request = requests.question("Is 12 Oak St pet-friendly?")
    mutate(request)
    result = evaluate(requests, request)
    assert isinstance(result, Ineligible)
    assert reason in result.reason


def test_configured_tasks_and_multi_turn_can_be_excluded(requests: Any) -> None:
    script = policy(ineligible_tasks=["script"]).evaluate(
        requests.context(task=common_pb2.TASK_TYPE_SCRIPT),
        requests.question("Write a call script"),
        "",
    )
    assert isinstance(script, Ineligible)
    assert "script" in script.reason
    follow_up = requests.question(
        "and the second?", history=((USER, "List condos"), (ASSISTANT, "..."))
    )
    assert isinstance(evaluate(requests, follow_up, allow_multi_turn=False), Ineligible)
    assert isinstance(evaluate(requests, follow_up), Question)


def test_task_names() -> None:
    assert task_name(common_pb2.TASK_TYPE_UNSPECIFIED) == "chat"
    assert task_name(common_pb2.TASK_TYPE_LEAD_ANALYSIS) == "lead_analysis"
    assert task_name(99) == "task_99"
