"""The validator estimates a completion's input once and hands the figure to admission; its
context-window refusals read the same as before."""

from __future__ import annotations

import pytest

from tollgate.common.errors import ServiceError
from tollgate.common.pricing import PriceTable
from tollgate.common.token_estimate import estimate_request
from tollgate.gateway.settings import Settings
from tollgate.gateway.validation import RequestValidator
from tollgate.v1 import common_pb2, gateway_pb2

PRICES = PriceTable.load()


def _completion(text: str, model: str = "", max_tokens: int = 100) -> gateway_pb2.Completion:
    message = common_pb2.Message(
        role=common_pb2.ROLE_USER,
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=text))],
    )
    request = common_pb2.ClaudeRequest(model=model, max_tokens=max_tokens, messages=[message])
    return gateway_pb2.Completion(request=request, template_variables={"name": "Ann " * 50})


@pytest.mark.parametrize("model", ["", *PRICES.models])
def test_check_returns_the_requests_own_estimate(model: str) -> None:
    completion = _completion("How many bedrooms does 12 Oak Street have? " * 20, model)
    estimate = RequestValidator(Settings(), PRICES).check(completion)
    assert estimate == estimate_request(completion.request)
    assert estimate > 0


def test_a_request_naming_no_model_is_held_to_the_smallest_window() -> None:
    smallest = min(PRICES.price(model).context_window_tokens for model in PRICES.models)
    validator = RequestValidator(Settings(max_output_tokens=10 * smallest), PRICES)
    fits = _completion("hello", max_tokens=smallest - 1000)
    validator.check(fits)
    too_long = _completion("hello", max_tokens=smallest)
    with pytest.raises(ServiceError) as refused:
        validator.check(too_long)
    assert f"the {smallest:,}-token context window of the models this request may be" in str(
        refused.value.message
    )
