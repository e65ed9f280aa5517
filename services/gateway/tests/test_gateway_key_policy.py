"""Lead reasoning and a key's models: reasoning names no model and may run on any role model
(the small one, the default as fallback), so a key limited to models is allowed it only when all
of them are its own; otherwise it is refused with a sentence, never run on another model."""

from __future__ import annotations

import grpc
import pytest

from tollgate.common.auth import ApiKey, KeyLimits
from tollgate.common.errors import ServiceError
from tollgate.common.pricing import PriceTable
from tollgate.gateway.key_policy import check_lead_reasoning

ROLE_MODELS = PriceTable.load().role_models


def _key(*models: str) -> ApiKey:
    return ApiKey("key_1", "acme", "x", limits=KeyLimits(allowed_models=frozenset(models)))


def test_a_key_without_model_limits_or_allowed_every_role_model_may_ask() -> None:
    check_lead_reasoning(_key(), ROLE_MODELS)
    check_lead_reasoning(_key(*ROLE_MODELS, "claude-haiku-4-5"), ROLE_MODELS)


@pytest.mark.parametrize("allowed", [("claude-haiku-4-5",), (ROLE_MODELS[0],)])
def test_a_key_missing_a_model_reasoning_may_run_on_is_refused(allowed: tuple[str, ...]) -> None:
    with pytest.raises(ServiceError) as refused:
        check_lead_reasoning(_key(*allowed), ROLE_MODELS)
    assert refused.value.code == grpc.StatusCode.PERMISSION_DENIED
    message = refused.value.message
    assert "may not ask for lead reasoning" in message
    assert "with_reasoning=false" in message
    assert all(model in message for model in ROLE_MODELS)
