"""The token bound never undercounts: against the reference tokenizer (the emulator's), for any
text Hypothesis can build and for the adversarial shapes that fooled the calibrated estimate."""

from __future__ import annotations

import base64
import random

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from tollgate.common.token_bound import (
    SPLICE_TOKENS,
    upper_bound_request,
    upper_bound_template_variables,
    upper_bound_text,
)
from tollgate.common.token_estimate import estimate_text
from tollgate.emulator.tokens import count_request_tokens, count_text_tokens
from tollgate.v1 import common_pb2

# Characters from every class the bound tells apart, so short examples mix them densely.
_ALPHABET = st.sampled_from(
    [
        *"aZq \t\n\r\x0b09.,{}\"'",
        "é",
        "ß",
        "中",
        "文",
        "😀",
        "👍",
        "\U0001f3fd",
        "\u3000",
        "\x85",
        "٣",
    ]
)


@settings(max_examples=400, deadline=None)
@given(st.text(alphabet=_ALPHABET, max_size=200))
def test_the_bound_is_never_below_the_reference_count_for_mixed_text(text: str) -> None:
    assert upper_bound_text(text) >= count_text_tokens(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=300))
def test_the_bound_is_never_below_the_reference_count_for_any_unicode(text: str) -> None:
    assert upper_bound_text(text) >= count_text_tokens(text)


@settings(max_examples=200, deadline=None)
@given(st.text(max_size=200))
def test_the_bound_is_never_below_the_utf8_byte_count_of_non_ascii_text(text: str) -> None:
    # Byte-level BPE needs at most one token per byte; every non-ASCII byte is charged in full.
    non_ascii = "".join(c for c in text if not c.isascii())
    assert upper_bound_text(non_ascii) >= len(non_ascii.encode("utf-8", "surrogatepass"))


def _adversarial() -> dict[str, str]:
    rng = random.Random(17)
    return {
        "a-tab": "a\t" * 5000,
        "tabs": "\t" * 10_000,
        "single letters": " ".join("abcdefghij") * 1000,
        "emoji": "😀👍🏽🎉" * 2000,
        "cjk": "中文字符测试" * 2000,
        "base64": base64.b64encode(rng.randbytes(30_000)).decode(),
        "long digits": "".join(rng.choice("0123456789") for _ in range(20_000)),
        "digits and dots": "1." * 8000,
        "punctuation": "{}[](),;:" * 2000,
    }


@pytest.mark.parametrize(("name", "text"), list(_adversarial().items()))
def test_adversarial_text_is_never_underestimated(name: str, text: str) -> None:
    reference = count_text_tokens(text)
    assert upper_bound_text(text) >= reference, name
    # The calibrated estimate is what these shapes fooled; the bound is the one holds use.
    if name == "a-tab":
        assert estimate_text(text) < reference


def test_a_request_bound_covers_every_block_kind() -> None:
    text = "a\t" * 300
    request = common_pb2.ClaudeRequest(
        system=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
        tools=[common_pb2.Tool(name="lookup", description=text)],
        messages=[
            common_pb2.Message(
                role=common_pb2.ROLE_USER,
                content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text="😀" * 200))],
            )
        ],
    )
    body = {
        "system": [{"type": "text", "text": text}],
        "tools": [{"name": "lookup", "description": text, "input_schema": {"type": "object"}}],
        "messages": [{"role": "user", "content": [{"type": "text", "text": "😀" * 200}]}],
    }
    assert upper_bound_request(request) >= count_request_tokens(body)


@given(st.dictionaries(st.text(min_size=1, max_size=8), st.text(max_size=100), max_size=5))
def test_template_variables_are_bounded_per_use(variables: dict[str, str]) -> None:
    once = upper_bound_template_variables(variables)
    assert once >= sum(count_text_tokens(v) + SPLICE_TOKENS for v in variables.values())
    assert upper_bound_template_variables(variables, uses_per_variable=2) == 2 * once
