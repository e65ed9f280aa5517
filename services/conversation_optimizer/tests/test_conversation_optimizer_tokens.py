"""The calibrated estimate against the reference counter of the Anthropic API emulator."""

from __future__ import annotations

import statistics
from typing import Any

from tollgate.common.anthropic_format import request_from_params, request_to_params
from tollgate.common.token_estimate import (
    IMAGE_TOKENS,
    estimate_request,
    estimate_text,
)
from tollgate.emulator.tokens import count_request_tokens, count_text_tokens
from tollgate.v1 import common_pb2


def test_whole_requests_are_estimated_within_a_few_percent(
    crm_conversations: list[dict[str, Any]],
) -> None:
    errors = []
    for conversation in crm_conversations:
        reference = count_request_tokens(conversation["request"])
        estimate = estimate_request(request_from_params(conversation["request"]))
        errors.append((estimate - reference) / reference)
    assert statistics.mean(abs(e) for e in errors) < 0.015
    assert max(abs(e) for e in errors) < 0.05
    # No systematic lean either way (budgets reserve on the estimate).
    assert abs(statistics.mean(errors)) < 0.01


def test_text_estimates_follow_the_reference_on_ordinary_prose() -> None:
    samples = [
        "We'd like to stay under $650,000 and move in by June 15.",
        "Could you look for something in Maplewood that fits what we discussed?",
        "The listing agent asked that everyone remove their shoes inside.",
        '{"mls_number": "MLS-604301", "address": "539 Hawthorne Place", "list_price": 612000}',
        "Señora Núñez prefiere una casa con jardín cerca de la escuela.",
    ]
    for text in samples:
        reference = count_text_tokens(text)
        assert abs(estimate_text(text) - reference) <= max(3, 0.2 * reference), text
    assert estimate_text("") == 0


def test_request_framing_matches_the_reference(make: Any) -> None:
    image = common_pb2.ContentBlock(image=common_pb2.ImageBlock(media_type="image/png", data=b"x"))
    request = make.request(
        [
            common_pb2.Message(
                role=common_pb2.ROLE_USER, content=[make.text_block("What is this?"), image]
            ),
            make.assistant("A floor plan."),
            make.user("Thanks"),
        ]
    )
    reference = count_request_tokens(request_to_params(request))
    assert reference > IMAGE_TOKENS
    assert abs(estimate_request(request) - reference) <= 3
