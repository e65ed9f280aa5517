"""Each strategy on its own, the token target, and the per-task policies."""

from __future__ import annotations

import asyncio
import itertools
import json
from typing import Any

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.common.errors import ServiceError
from tollgate.common.token_estimate import estimate_text
from tollgate.conversation_optimizer.compression import REPEAT_MARKER
from tollgate.conversation_optimizer.low_value import is_pleasantry
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer, Outcome
from tollgate.conversation_optimizer.policy import Policy, PolicyBook, Strategy, parse_strategies
from tollgate.conversation_optimizer.sentences import split_sentences
from tollgate.conversation_optimizer.settings import Settings
from tollgate.conversation_optimizer.tool_results import truncate_text
from tollgate.v1 import common_pb2

LISTINGS = "\n".join(
    json.dumps({"mls": f"MLS-{i:06d}", "address": f"{i} Elm Street", "price": 500_000 + i})
    for i in range(80)
)


def optimize(request: common_pb2.ClaudeRequest, policy: Policy) -> Outcome:
    return asyncio.run(ConversationOptimizer().optimize(request, policy))


def texts(message: common_pb2.Message) -> list[str]:
    return [b.text.text for b in message.content if b.WhichOneof("block") == "text"]


@settings(max_examples=300, deadline=None, database=None)
@given(st.text())
def test_sentences_give_back_the_text_exactly(text: str) -> None:
    assert "".join(s.text + s.tail for s in split_sentences(text)) == text


def test_sentences_do_not_end_at_abbreviations() -> None:
    sentences = [s.text for s in split_sentences("Meet at St. Mary's at 10 a.m. today. Thanks!")]
    assert sentences == ["Meet at St. Mary's at 10 a.m. today.", "Thanks!"]


@pytest.mark.parametrize(
    ("sentence", "low_value"),
    [
        ("Thanks so much!", True),
        ("Okay, sounds good.", True),
        ("Let me know if you need anything else.", True),
        ("Thanks, we need four bedrooms.", False),
        ("Great, the offer on 41 Alder Street was accepted.", False),
        ("Can you check the HOA fees for that one?", False),
    ],
)
def test_pleasantries(sentence: str, low_value: bool) -> None:
    assert is_pleasantry(sentence) is low_value


def conversation_with_small_talk(make: Any) -> common_pb2.ClaudeRequest:
    messages = [
        make.user("Hi there!"),
        make.assistant("Hello! How can I help?"),
        make.user("Thanks so much! We need three bedrooms in Maplewood."),
        make.assistant("Got it, three bedrooms in Maplewood. Happy to help!"),
        make.user("Could you remind me of the price range you suggested?"),
        make.assistant("Got it, three bedrooms in Maplewood."),
    ]
    for i in range(6):
        messages += [
            make.user(f"Question {i}: what about schools?"),
            make.assistant(f"Answer {i}."),
        ]
    messages.append(make.user("What next?"))
    return make.request(messages)


def test_low_value_turns_are_dropped_or_shortened_in_old_exchanges(make: Any) -> None:
    request = conversation_with_small_talk(make)
    policy = Policy(
        strategies=(Strategy.KEEP_RECENT, Strategy.DROP_LOW_VALUE),
        chunk_exchanges=3,
        compressed_chunks=5,
    )
    outcome = optimize(request, policy)
    assert outcome.strategies_applied == ["drop_low_value"]
    messages = list(outcome.request.messages)
    # The greeting exchange is gone whole; courtesies are cut from the next one.
    assert outcome.turns_removed == 2
    assert texts(messages[0]) == ["We need three bedrooms in Maplewood."]
    assert texts(messages[1]) == ["Got it, three bedrooms in Maplewood."]
    # An answer that only repeats an earlier sentence becomes a short marker.
    assert texts(messages[3]) == [REPEAT_MARKER]


def test_long_tool_results_are_cut_with_a_marker_and_the_cut_is_stable() -> None:
    cut = truncate_text(LISTINGS, 120)
    assert cut is not None
    assert cut.text.startswith('{"mls": "MLS-000000"')
    assert cut.text.endswith('"price": 500079}')
    assert "lines (" in cut.text
    assert "of tool output omitted" in cut.text
    assert estimate_text(cut.text) < 160
    assert cut.removed_text in LISTINGS
    assert cut.removed_text
    assert truncate_text(LISTINGS, 120) == cut
    assert truncate_text("short output", 120) is None


def test_one_long_line_is_cut_by_characters() -> None:
    line = json.dumps([{"address": f"{i} Elm Street"} for i in range(300)])
    cut = truncate_text(line, 100)
    assert cut is not None
    assert estimate_text(cut.text) < 150
    assert cut.text.startswith(line[:40])
    assert cut.text.endswith(line[-20:])


def tool_conversation(
    make: Any, exchanges: int, output: str = LISTINGS
) -> common_pb2.ClaudeRequest:
    messages: list[common_pb2.Message] = []
    for i in range(exchanges):
        tool_id = f"toolu_{i}"
        messages += [
            make.user(f"Search round {i} please."),
            common_pb2.Message(
                role=common_pb2.ROLE_ASSISTANT,
                content=[make.tool_use(tool_id, "search_listings", {"area": "Maplewood"})],
            ),
            common_pb2.Message(
                role=common_pb2.ROLE_USER, content=[make.tool_result(tool_id, output)]
            ),
            make.assistant(f"Round {i}: the best match is {i} Elm Street at ${500_000 + i:,}."),
        ]
    messages.append(make.user("Which one should we see first?"))
    return make.request(messages)


def test_tool_results_are_cut_only_in_old_exchanges(make: Any) -> None:
    request = tool_conversation(make, 6)
    policy = Policy(
        strategies=(Strategy.KEEP_RECENT, Strategy.TRUNCATE_TOOL_RESULTS),
        keep_last_turns=5,
        chunk_exchanges=2,
        compressed_chunks=5,
    )
    outcome = optimize(request, policy)
    assert outcome.strategies_applied == ["truncate_tool_results"]
    results = [
        b.tool_result.content[0].text.text
        for m in outcome.request.messages
        for b in m.content
        if b.WhichOneof("block") == "tool_result"
    ]
    assert len(results) == 6
    # Every exchange before the last five turns is cut; those turns are sent as they came.
    assert all("omitted" in r for r in results[:5])
    assert results[5:] == [LISTINGS]
    assert outcome.optimized_tokens < outcome.original_tokens / 2


def test_a_target_drops_more_chunks_until_the_request_fits(make: Any) -> None:
    short_listings = "\n".join(LISTINGS.splitlines()[:12])
    request = tool_conversation(make, 16, short_listings)
    loose = optimize(request, Policy())
    target = loose.optimized_tokens - 300
    tight = optimize(request, Policy(target_tokens=target))
    assert tight.optimized_tokens <= target
    assert tight.dropped_exchanges > loose.dropped_exchanges
    assert tight.dropped_exchanges % Policy().chunk_exchanges == 0
    impossible = optimize(request, Policy(target_tokens=10))
    # Best effort: everything but the verbatim tail goes, and the tail is never touched.
    assert impossible.dropped_exchanges == impossible.sealed_exchanges
    assert impossible.optimized_tokens > 10
    assert list(impossible.request.messages[-5:]) == list(request.messages[-5:])


@settings(max_examples=150, deadline=None, database=None)
@given(data=st.data())
def test_a_single_message_comes_back_unchanged(
    conversation_strategy: Any, data: st.DataObject
) -> None:
    """The gateway does not ask about a one-message request (its step
    test_one_message_is_not_sent_to_the_optimizer) because of this: only history is cut, and one
    message is all verbatim tail, whatever the strategies, target and prompt caching."""
    request = data.draw(
        conversation_strategy(max_exchanges=1).filter(lambda r: len(r.messages) == 1)
    )
    strategies = data.draw(st.lists(st.sampled_from([s.value for s in Strategy]), unique=True))
    policy = Policy().with_request(strategies, data.draw(st.integers(0, 5_000)))
    if data.draw(st.booleans()):
        policy = policy.for_prompt_caching()
    outcome = optimize(request, policy)
    assert outcome.request == request
    assert not outcome.changed
    assert outcome.original_tokens == outcome.optimized_tokens
    assert (outcome.turns_removed, outcome.summary_cost_micros) == (0, 0)


def test_cache_breakpoints_of_kept_blocks_stay_and_none_are_added(make: Any) -> None:
    request = tool_conversation(make, 10)
    request.system[0].cache_control.ttl = common_pb2.CACHE_TTL_1H
    request.messages[-1].content[0].cache_control.ttl = common_pb2.CACHE_TTL_5M
    outcome = optimize(request, Policy())
    assert outcome.changed
    marked = [
        b for m in outcome.request.messages for b in m.content if b.HasField("cache_control")
    ] + [b for b in outcome.request.system if b.HasField("cache_control")]
    assert len(marked) == 2
    assert outcome.request.system[0].cache_control.ttl == common_pb2.CACHE_TTL_1H
    assert outcome.request.messages[-1].content[0].cache_control.ttl == common_pb2.CACHE_TTL_5M


def test_consecutive_turns_of_one_role_are_merged(make: Any) -> None:
    messages = []
    for i in range(10):
        messages += [
            make.user(f"Part one of question {i}."),
            make.user(f"Part two of question {i}, with a budget of ${400 + i}k."),
            make.assistant(f"Answer {i}."),
        ]
    messages.append(make.user("Done?"))
    outcome = optimize(make.request(messages), Policy())
    roles = [m.role for m in outcome.request.messages]
    assert all(a != b for a, b in itertools.pairwise(roles))
    assert "$400k" in outcome.facts_note


def test_strategy_names_are_checked() -> None:
    assert parse_strategies(["facts_note", "KEEP_RECENT"]) == (
        Strategy.KEEP_RECENT,
        Strategy.FACTS_NOTE,
    )
    with pytest.raises(ServiceError) as caught:
        parse_strategies(["keep_recent", "shrink"])
    assert "shrink" in caught.value.message
    assert caught.value.field_violations == [("strategies[1]", caught.value.message)]


def test_each_task_gets_its_policy_and_requests_can_override_it() -> None:
    book = PolicyBook(Policy(keep_last_turns=3), {"lead_analysis": {"compressed_chunks": 4}})
    lead = book.for_task(common_pb2.TASK_TYPE_LEAD_ANALYSIS)
    chat = book.for_task(common_pb2.TASK_TYPE_UNSPECIFIED)
    assert (lead.keep_last_turns, lead.compressed_chunks) == (3, 4)
    assert chat == Policy(keep_last_turns=3)
    custom = chat.with_request(["keep_recent"], 900)
    assert custom.strategies == (Strategy.KEEP_RECENT,)
    assert custom.target_tokens == 900
    assert chat.with_request([], 0) is chat
    with pytest.raises(ValueError, match="unknown tasks"):
        PolicyBook(Policy(), {"poetry": {}})


def test_a_request_policy_is_its_task_policy_with_the_request_settings() -> None:
    book = PolicyBook(Policy(keep_last_turns=3), {"lead_analysis": {"compressed_chunks": 4}})
    lead = common_pb2.TASK_TYPE_LEAD_ANALYSIS
    for _ in range(2):  # the second time from the book's reuse
        cached = book.for_request(lead, ["facts_note", "keep_recent"], 700, True)
        assert (
            cached
            == book.for_task(lead)
            .with_request(["facts_note", "keep_recent"], 700)
            .for_prompt_caching()
        )
        assert book.for_request(lead, [], 0, True).prompt_caching
        plain = book.for_request(lead, [], 0, False)
        assert plain == book.for_task(lead)
        assert book.for_request(common_pb2.TASK_TYPE_CHAT, [], 900, False).target_tokens == 900
    with pytest.raises(ServiceError):
        book.for_request(lead, ["shrink"], 0, False)
    with pytest.raises(ServiceError):
        book.for_request(lead, ["shrink"], 0, False)


def test_settings_read_policies_from_json_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(
        "TOLLGATE_CONVERSATION_OPTIMIZER_DEFAULT_POLICY",
        '{"keep_last_turns": 6, "strategies": ["keep_recent", "facts_note"]}',
    )
    monkeypatch.setenv(
        "TOLLGATE_CONVERSATION_OPTIMIZER_TASK_POLICIES", '{"report": {"target_tokens": 8000}}'
    )
    monkeypatch.setenv("TOLLGATE_CONVERSATION_OPTIMIZER_ORCHESTRATOR_ADDRESS", "orchestrator:50056")
    loaded = Settings()
    assert loaded.default_policy.keep_last_turns == 6
    assert loaded.default_policy.strategies == (Strategy.KEEP_RECENT, Strategy.FACTS_NOTE)
    assert loaded.orchestrator_address == "orchestrator:50056"
    report = PolicyBook(loaded.default_policy, loaded.task_policies).for_task(
        common_pb2.TASK_TYPE_REPORT
    )
    assert (report.target_tokens, report.keep_last_turns) == (8000, 6)


def test_very_long_conversations_are_planned_off_the_event_loop_alike(
    make: Any, monkeypatch: pytest.MonkeyPatch
) -> None:
    from tollgate.conversation_optimizer import optimizer as optimizer_module

    messages: list[common_pb2.Message] = []
    for i in range(150):
        messages += [
            make.user(f"Turn {i}: we could also look at {i} Birch Lane for ${600 + i}k."),
            make.assistant(f"Noted {i}, thanks!"),
        ]
    messages.append(make.user("Summarise the options."))
    request = make.request(messages)
    assert len(request.messages) > optimizer_module.THREAD_ABOVE_TURNS
    in_thread = optimize(request, Policy())
    monkeypatch.setattr(optimizer_module, "THREAD_ABOVE_TURNS", 10_000)
    inline = optimize(request, Policy())
    assert in_thread == inline
    assert in_thread.turns_removed > 250
    assert "$600k" in in_thread.facts_note
    assert texts(in_thread.request.messages[-3]) == [
        "Turn 149: we could also look at 149 Birch Lane for $749k."
    ]
