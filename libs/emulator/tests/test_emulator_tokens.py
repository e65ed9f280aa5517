from __future__ import annotations

from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tollgate.emulator import count_request_tokens, count_text_tokens, tokenize
from tollgate.emulator.answers import key_words
from tollgate.emulator.tokens import (
    BLOCK_OVERHEAD_TOKENS,
    IMAGE_TOKENS,
    MESSAGE_OVERHEAD_TOKENS,
    REQUEST_OVERHEAD_TOKENS,
    TOOLS_PREAMBLE_TOKENS,
    prompt_segments,
)

PROSE = (
    "Hello, I'm looking for a three-bedroom house near the river with a budget of "
    "$450,000. Can you check which listings match and tell me which leads I should "
    "call first this week? The quick brown fox jumps over the lazy dog."
)


def test_tokenize_round_trips_text() -> None:
    for text in (PROSE, "a  b\n c  \n\n", "日本語 テキスト", "x" * 50, "", "  \t\n"):
        assert "".join(tokenize(text)) == text


def test_word_and_number_rules() -> None:
    assert tokenize(" the") == [" the"]
    assert tokenize(" budget") == [" budget"]
    assert tokenize(" listings") == [" listin", "gs"]
    assert tokenize(" neighborhood") == [" neighb", "orho", "od"]
    assert tokenize(" 1234567") == [" 123", "456", "7"]
    assert tokenize("Hi, you!") == ["Hi", ",", " you", "!"]


# Letters, digits, spaces and other whitespace in runs of every length the rules chunk.
_TEXT = st.text(st.sampled_from("ab Z9 0\n\t.,é日-'"), max_size=80) | st.text(max_size=40)


@given(_TEXT)
def test_counting_text_gives_the_number_of_pieces_tokenize_cuts(text: str) -> None:
    assert count_text_tokens(text) == len(tokenize(text))


def test_english_prose_is_about_four_characters_per_token() -> None:
    ratio = len(PROSE) / count_text_tokens(PROSE)
    assert 3.5 <= ratio <= 4.5


def test_request_count_is_sum_of_documented_parts() -> None:
    request: dict[str, Any] = {
        "system": "You are a helpful CRM assistant.",
        "messages": [
            {"role": "user", "content": "Which leads are hot?"},
            {"role": "assistant", "content": [{"type": "text", "text": "Two of them."}]},
            {
                "role": "user",
                "content": [
                    {"type": "image", "source": {"type": "url", "url": "https://x/y.png"}},
                    {"type": "text", "text": "And this one?"},
                ],
            },
        ],
    }
    expected = (
        BLOCK_OVERHEAD_TOKENS
        + count_text_tokens("You are a helpful CRM assistant.")
        + 3 * MESSAGE_OVERHEAD_TOKENS
        + BLOCK_OVERHEAD_TOKENS
        + count_text_tokens("Which leads are hot?")
        + BLOCK_OVERHEAD_TOKENS
        + count_text_tokens("Two of them.")
        + BLOCK_OVERHEAD_TOKENS
        + IMAGE_TOKENS
        + BLOCK_OVERHEAD_TOKENS
        + count_text_tokens("And this one?")
        + REQUEST_OVERHEAD_TOKENS
    )
    assert count_request_tokens(request) == expected


def test_tools_are_counted_from_their_json_and_cache_control_is_free() -> None:
    tool = {
        "name": "find_listings",
        "description": "Search listings by city and budget.",
        "input_schema": {"type": "object", "properties": {"city": {"type": "string"}}},
    }
    base = {"messages": [{"role": "user", "content": "hi"}]}
    with_tool = count_request_tokens({**base, "tools": [tool]})
    assert with_tool - count_request_tokens(base) > TOOLS_PREAMBLE_TOKENS
    marked = {**tool, "cache_control": {"type": "ephemeral", "ttl": "1h"}}
    assert count_request_tokens({**base, "tools": [marked]}) == with_tool


def test_segments_follow_cache_order_and_carry_breakpoints() -> None:
    request = {
        "tools": [
            {
                "name": "t",
                "input_schema": {"type": "object"},
                "cache_control": {"type": "ephemeral"},
            }
        ],
        "system": [{"type": "text", "text": "sys", "cache_control": {"type": "ephemeral"}}],
        "messages": [{"role": "user", "content": "question"}],
    }
    segments = prompt_segments(request)
    keys = [segment.key.split(":", 1)[0] for segment in segments]
    assert keys == ["tools-preamble", "tool", "system", "message", "user", "assistant-turn"]
    assert [segment.ttl for segment in segments] == [None, "5m", "5m", None, None, None]
    assert sum(segment.tokens for segment in segments) == count_request_tokens(request)


class _CountingText(str):
    """A str that adds up how many characters its slices and indexing hand out."""

    handed_out = 0

    def __getitem__(self, key: Any) -> str:
        piece = super().__getitem__(key)
        _CountingText.handed_out += len(piece)
        return piece


@pytest.mark.parametrize(
    "text", ["hello world " * 2000, "Dana Smith met Bob. " * 1000, "a\t" * 5000]
)
def test_key_words_reads_the_prompt_a_bounded_number_of_times(text: str) -> None:
    # It used to copy the whole prefix for every word: one 3.9 MB prompt took minutes.
    # Counting characters handed out measures the work without a clock.
    _CountingText.handed_out = 0
    key_words(_CountingText(text))
    assert _CountingText.handed_out <= 4 * len(text)
