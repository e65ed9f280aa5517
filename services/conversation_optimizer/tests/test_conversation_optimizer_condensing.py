"""Condensed assistant replies, correction slots, unmet targets and the prompt-cache rule."""

from __future__ import annotations

import asyncio
from typing import Any

from tollgate.common.token_estimate import estimate_frame, estimate_messages, estimate_request
from tollgate.conversation_optimizer.cache_cost import cut_pays, verbatim_head
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer
from tollgate.conversation_optimizer.policy import Policy
from tollgate.conversation_optimizer.replies import condense_reply
from tollgate.conversation_optimizer.slots import corrects, overlap, slots

VERBOSE = (
    "Thank you, that is really helpful to know. It is completely normal for priorities to "
    "shift as you see more places, and I would much rather we adjust the plan now than have "
    "you feel boxed in later. I found 4 homes, and the best is 12 Birch Lane at $480,000. "
    "Everything we discuss goes into your file. Shall I book a visit on Saturday?"
)


def test_a_condensed_reply_keeps_its_new_facts_and_closing_question() -> None:
    condensed = condense_reply(VERBOSE, 100)
    assert condensed == (
        "I found 4 homes, and the best is 12 Birch Lane at $480,000. "
        "Shall I book a visit on Saturday?"
    )


def test_a_reply_that_only_restates_known_facts_keeps_its_question() -> None:
    said = {"12 birch lane", "$480000", "4 homes"}
    condensed = condense_reply(VERBOSE, 100, said)
    assert condensed == "Shall I book a visit on Saturday?"


def test_a_reply_without_facts_or_question_keeps_its_first_useful_sentence() -> None:
    text = "Thanks so much! There is no pressure to decide today. We can talk again later."
    assert condense_reply(text, 100) == "There is no pressure to decide today."


def test_a_short_reply_comes_back_as_it_is() -> None:
    assert condense_reply("Yes, $480,000.", 100) == "Yes, $480,000."


def test_corrections_are_told_by_their_words() -> None:
    assert corrects("Actually, we'll do 25% down with a DSCR loan instead of cash.")
    assert corrects("We changed our mind, we'd like a two-week rent-back.")
    assert corrects("We're no longer leaving the fridge.")
    assert not corrects("We don't own a car.")


def test_a_correction_shares_a_slot_with_what_it_replaces() -> None:
    switch = slots("Actually, we'll do 25% down with a DSCR loan instead of cash.")
    assert overlap(switch, slots("We're planning to pay all cash.")) > 0
    assert overlap(switch, slots("We don't own a car.")) == 0
    fenced = slots("Actually, with the chickens, we do need a fenced area after all.")
    assert overlap(fenced, slots("We don't need fencing.")) > 0


def test_prompt_caching_cuts_only_what_stays_cacheable() -> None:
    # Nothing was cacheable anyway: any cut pays.
    assert cut_pays(900, 100, 1024)
    # The cut history stays long enough to be read from the cache.
    assert cut_pays(5000, 1500, 1024)
    # The cut would be billed in full while the uncut history is read at a tenth.
    assert not cut_pays(3000, 700, 1024)


def long_chat(make: Any, exchanges: int) -> Any:
    messages = []
    for i in range(exchanges):
        messages += [make.user(f"Point {i}: we don't want stairs."), make.assistant(VERBOSE)]
    messages.append(make.user("What next?"))
    return make.request(messages)


def test_with_prompt_caching_a_short_conversation_keeps_a_cacheable_head_verbatim(
    make: Any,
) -> None:
    """Condensed whole, 14 exchanges would be too short to cache: the oldest stay verbatim up to
    the cache minimum and the rest is condensed, so the stable part can still be read back. A
    long conversation is condensed whole."""
    optimizer = ConversationOptimizer()
    caching = Policy().for_prompt_caching()
    request = long_chat(make, 14)
    short = asyncio.run(optimizer.optimize(request, caching))
    long = asyncio.run(optimizer.optimize(long_chat(make, 60), caching))
    uncached = asyncio.run(optimizer.optimize(request, Policy()))

    assert short.changed
    assert 0 < short.verbatim_head < 13
    head_messages = 2 * short.verbatim_head
    assert list(short.request.messages[:head_messages]) == list(request.messages[:head_messages])
    # After the head, the user's words stay and the assistant's reply is condensed.
    assert short.request.messages[head_messages] == request.messages[head_messages]
    assert short.request.messages[head_messages + 1] != request.messages[head_messages + 1]
    stable = list(short.request.messages[: short.stable_messages])
    assert estimate_frame(short.request) + estimate_messages(stable) >= 1024
    assert short.optimized_tokens > uncached.optimized_tokens
    assert long.changed
    assert long.verbatim_head == 0
    assert "condense_replies" in long.strategies_applied


def test_with_prompt_caching_a_conversation_under_the_minimum_is_left_alone_until_it_can_pay(
    make: Any,
) -> None:
    """Just over the minimum, the head would take every older exchange: nothing to condense;
    under it nothing could be cached anyway, so the whole conversation is condensed."""
    optimizer = ConversationOptimizer()
    request = long_chat(make, 6)
    tokens = estimate_request(request)
    just_over = Policy(cached_min_prompt_tokens=tokens - 20).for_prompt_caching()
    under = Policy(cached_min_prompt_tokens=tokens + 1).for_prompt_caching()
    assert not asyncio.run(optimizer.optimize(request, just_over)).changed
    condensed = asyncio.run(optimizer.optimize(request, under))
    assert condensed.changed
    assert condensed.verbatim_head == 0


def test_the_head_depends_only_on_the_frame_and_the_oldest_exchanges() -> None:
    assert verbatim_head(200, [300, 300, 300, 300], 1024) == 3
    assert verbatim_head(200, [300, 300, 300, 300, 5000], 1024) == 3
    assert verbatim_head(1100, [300], 1024) == 0
    assert verbatim_head(200, [300], 1024) == 1


def test_an_unreachable_target_says_why_and_by_how_much(make: Any) -> None:
    request = long_chat(make, 6)
    outcome = asyncio.run(
        ConversationOptimizer().optimize(request, Policy(target_tokens=50, keep_last_turns=4))
    )
    assert not outcome.target.met
    assert outcome.target.missed_by == outcome.optimized_tokens - 50
    assert "turns, always sent as they are" in outcome.target.explanation


def test_a_reachable_target_is_met(make: Any) -> None:
    request = long_chat(make, 30)
    loose = asyncio.run(ConversationOptimizer().optimize(request, Policy()))
    target = loose.optimized_tokens - 30
    tight = asyncio.run(ConversationOptimizer().optimize(request, Policy(target_tokens=target)))
    assert tight.optimized_tokens <= target
    assert tight.target.met


def test_a_target_that_only_losing_the_users_words_could_meet_is_reported(make: Any) -> None:
    request = long_chat(make, 30)
    outcome = asyncio.run(ConversationOptimizer().optimize(request, Policy(target_tokens=300)))
    assert not outcome.target.met
    assert "Point 0: we don't want stairs." in outcome.facts_note
    assert "the facts note that keeps what they said" in outcome.target.explanation


def test_a_conversation_that_is_all_tail_is_counted_and_its_target_still_explained(
    make: Any,
) -> None:
    """Nothing is older than the verbatim tail: the request comes back as it is, with its
    estimate, and a target it misses is explained as for any other request."""
    optimizer = ConversationOptimizer()
    cases = [
        make.request([make.user("Hello, which listings have a garden?")]),
        make.request([make.user("Hello."), make.user("Which listings have a garden?")]),
        long_chat(make, 3),
    ]
    for request in cases:
        policy = Policy(keep_last_turns=20).for_prompt_caching()
        outcome = asyncio.run(optimizer.optimize(request, policy))
        tokens = estimate_request(request)
        assert outcome.request is request
        assert (outcome.original_tokens, outcome.optimized_tokens) == (tokens, tokens)
        assert outcome.target.met
        assert not outcome.changed
        assert outcome.stable_messages == 0
        within = Policy(keep_last_turns=20, target_tokens=tokens)
        assert asyncio.run(optimizer.optimize(request, within)).target.met
        tight = Policy(keep_last_turns=20, target_tokens=tokens - 1)
        missed = asyncio.run(optimizer.optimize(request, tight))
        assert missed.request is request
        assert not missed.target.met
        assert missed.target.missed_by == 1
        assert missed.target.explanation.startswith(
            f"The target of {tokens - 1} tokens is out of reach by 1 tokens"
        )
        # Nothing is older than the tail, so the frame and the tail as sent are the whole
        # request: the explanation's figure is the request's own.
        assert f"already take {tokens}." in missed.target.explanation
