"""Property tests: whatever the conversation and the policy, the optimizer sends a valid request."""

from __future__ import annotations

import asyncio
import itertools
from collections.abc import Callable

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from tollgate.common.anthropic_format import request_to_params
from tollgate.common.token_estimate import estimate_frame, estimate_messages
from tollgate.conversation_optimizer.conversation import parse_conversation
from tollgate.conversation_optimizer.optimizer import ConversationOptimizer, Outcome
from tollgate.conversation_optimizer.policy import Policy, Strategy
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.validation import validate_request
from tollgate.v1 import common_pb2

# A model the emulator knows, for its request validation.
EMULATOR_MODEL = "claude-sonnet-4-6"

policies = st.builds(
    Policy,
    strategies=st.lists(st.sampled_from(list(Strategy)), unique=True).map(tuple),
    target_tokens=st.one_of(st.just(0), st.integers(min_value=50, max_value=4000)),
    keep_last_turns=st.integers(min_value=1, max_value=6),
    chunk_exchanges=st.integers(min_value=1, max_value=4),
    compressed_chunks=st.integers(min_value=0, max_value=3),
    tool_result_max_tokens=st.integers(min_value=20, max_value=200),
    note_tool_results=st.booleans(),
    note_max_tokens=st.one_of(st.just(0), st.integers(min_value=30, max_value=400)),
    reply_max_tokens=st.integers(min_value=10, max_value=120),
    # Requests sent with prompt caching: the cut waits until it can be cached.
    prompt_caching=st.booleans(),
    cached_min_prompt_tokens=st.integers(min_value=0, max_value=1500),
)


def optimize(request: common_pb2.ClaudeRequest, policy: Policy) -> Outcome:
    return asyncio.run(ConversationOptimizer().optimize(request, policy))


def kinds(message: common_pb2.Message) -> list[str]:
    return [str(block.WhichOneof("block")) for block in message.content]


def assert_valid_anthropic_request(
    original: common_pb2.ClaudeRequest, optimized: common_pb2.ClaudeRequest
) -> None:
    messages = list(optimized.messages)
    assert messages, "no messages left"
    assert messages[0].role == common_pb2.ROLE_USER
    assert messages[-1].role == original.messages[-1].role == common_pb2.ROLE_USER
    for previous, current in itertools.pairwise(messages):
        assert previous.role != current.role, "roles do not alternate"
    for i, message in enumerate(messages):
        assert message.content, f"message {i} is empty"
        for block in message.content:
            kind = block.WhichOneof("block")
            assert kind is not None
            if kind == "text":
                assert block.text.text.strip(), f"message {i} has an empty text block"
            if kind == "tool_result":
                assert all(b.text.text.strip() for b in block.tool_result.content)
        uses = [b.tool_use.id for b in message.content if b.WhichOneof("block") == "tool_use"]
        if uses:
            assert message.role == common_pb2.ROLE_ASSISTANT
            answered = [
                b.tool_result.tool_use_id
                for b in messages[i + 1].content
                if b.WhichOneof("block") == "tool_result"
            ]
            assert sorted(answered) == sorted(uses), "tool_use without its tool_result"
        results = [
            b.tool_result.tool_use_id
            for b in message.content
            if b.WhichOneof("block") == "tool_result"
        ]
        if results:
            asked = {
                b.tool_use.id
                for b in messages[i - 1].content
                if b.WhichOneof("block") == "tool_use"
            }
            assert set(results) <= asked, "tool_result without its tool_use"
            block_kinds = kinds(message)
            assert block_kinds[: len(results)] == ["tool_result"] * len(results)
    # The system prompt is kept as it was; at most the note is added after it.
    assert list(optimized.system[: len(original.system)]) == list(original.system)
    assert len(optimized.system) - len(original.system) in (0, 1)
    # The emulator checks requests the way the real API does.
    params = request_to_params(optimized)
    params["model"] = EMULATOR_MODEL
    validate_request(params, EmulatorConfig())


SETTINGS = settings(
    deadline=None,
    database=None,
    suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
)
Strategies = Callable[..., st.SearchStrategy[common_pb2.ClaudeRequest]]
TurnsOf = Callable[[common_pb2.ClaudeRequest], list[common_pb2.ClaudeRequest]]


@settings(SETTINGS, max_examples=150)
@given(data=st.data(), policy=policies)
def test_any_conversation_comes_out_as_a_valid_request(
    data: st.DataObject, policy: Policy, conversation_strategy: Strategies
) -> None:
    request = data.draw(conversation_strategy())
    outcome = optimize(request, policy)
    assert_valid_anthropic_request(request, outcome.request)

    normalised = parse_conversation(request).messages
    assert len(outcome.request.messages) == len(normalised) - outcome.turns_removed
    if not outcome.changed:
        assert outcome.request == request
        assert outcome.optimized_tokens == outcome.original_tokens
    else:
        assert outcome.optimized_tokens < outcome.original_tokens
    # The last turns always go out exactly as they came in.
    tail = normalised[-min(policy.keep_last_turns, len(normalised)) :]
    assert list(outcome.request.messages[-len(tail) :]) == tail
    # A target is met, or the outcome says by how much it was missed and why.
    target = outcome.target
    if policy.target_tokens and outcome.optimized_tokens > policy.target_tokens:
        assert not target.met
        assert target.missed_by == outcome.optimized_tokens - policy.target_tokens
        assert target.explanation.startswith(f"The target of {policy.target_tokens} tokens")
    else:
        assert target.met
        assert target.missed_by == 0


@settings(SETTINGS, max_examples=60)
@given(data=st.data(), policy=policies)
def test_optimizing_twice_keeps_the_request_valid(
    data: st.DataObject, policy: Policy, conversation_strategy: Strategies
) -> None:
    request = data.draw(conversation_strategy(max_exchanges=10))
    once = optimize(request, policy).request
    twice = optimize(once, policy).request
    assert_valid_anthropic_request(once, twice)


def turn_by_turn(requests: list[common_pb2.ClaudeRequest], policy: Policy) -> list[Outcome]:
    """Each turn's request optimized, as the gateway would send it."""
    return [optimize(request, policy) for request in requests]


def extends(previous: Outcome, outcome: Outcome) -> bool:
    """`outcome`'s request starts with `previous`'s up to its verbatim tail (the whole request
    when nothing changed), with the same system prompt."""
    stable = previous.stable_messages if previous.changed else len(previous.request.messages)
    return list(outcome.request.system) == list(previous.request.system) and list(
        outcome.request.messages[:stable]
    ) == list(previous.request.messages[:stable])


@settings(SETTINGS, max_examples=80)
@given(data=st.data(), chunk=st.integers(min_value=1, max_value=4), caching=st.booleans())
def test_prefix_changes_only_when_a_chunk_fills(
    data: st.DataObject,
    chunk: int,
    caching: bool,
    conversation_strategy: Strategies,
    turns_of: TurnsOf,
) -> None:
    """Replayed turn by turn without a target, the optimized request of each turn starts with
    the previous one's up to its verbatim tail, except on the turns where another chunk of
    exchanges was sealed (or, with prompt caching, where the cut is first made or the verbatim
    head goes)."""
    request = data.draw(conversation_strategy(max_exchanges=16))
    policy = Policy(chunk_exchanges=chunk, cached_chunk_exchanges=chunk)
    if caching:
        policy = policy.for_prompt_caching()
    outcomes = turn_by_turn(turns_of(request), policy)
    for previous, outcome in itertools.pairwise(outcomes):
        if (
            previous.changed == outcome.changed
            and previous.sealed_exchanges == outcome.sealed_exchanges
            and previous.verbatim_head == outcome.verbatim_head
        ):
            assert extends(previous, outcome)


@settings(SETTINGS, max_examples=80)
@given(data=st.data(), minimum=st.integers(min_value=0, max_value=900))
def test_with_prompt_caching_the_optimized_conversation_is_append_only(
    data: st.DataObject, minimum: int, conversation_strategy: Strategies, turns_of: TurnsOf
) -> None:
    """The gateway's default (the chat policy, prompt caching on, no target reached): each
    turn's optimized request starts with the previous turn's up to its verbatim tail. The prefix
    may change only where the cut starts and where the verbatim head kept for the cache minimum
    goes, each at most once per conversation; and the stable part always reaches the minimum
    (else it could not be read back)."""
    request = data.draw(conversation_strategy(max_exchanges=16))
    policy = Policy(cached_min_prompt_tokens=minimum, target_tokens=100_000).for_prompt_caching()
    outcomes = turn_by_turn(turns_of(request), policy)
    breaks = [
        (previous, outcome)
        for previous, outcome in itertools.pairwise(outcomes)
        if not extends(previous, outcome)
    ]
    for previous, outcome in breaks:
        assert (previous.changed, previous.verbatim_head) != (
            outcome.changed,
            outcome.verbatim_head,
        )
    # The head appears when the conversation outgrows the minimum and goes when its condensed
    # form reaches it: never back and forth.
    heads = [head for head, _ in itertools.groupby(o.verbatim_head for o in outcomes if o.changed)]
    assert len(heads) <= 3
    assert len([head for head in heads if head]) <= 1
    for outcome in outcomes:
        if outcome.changed and outcome.original_tokens >= minimum:
            stable = common_pb2.ClaudeRequest()
            stable.CopyFrom(outcome.request)
            del stable.messages[outcome.stable_messages :]
            assert estimate_frame(stable) + estimate_messages(list(stable.messages)) >= minimum
