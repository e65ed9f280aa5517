"""Model roles live next to the prices: the orchestrator routes to them by default and the
gateway holds budget for the dearest of them, from the one table."""

from __future__ import annotations

from typing import Any

import pytest

from tollgate.common.pricing import PriceTable, shipped_prices
from tollgate.gateway.steps.budget_hold import BudgetHoldStep
from tollgate.orchestrator.settings import Settings as OrchestratorSettings


def test_orchestrator_defaults_are_the_price_tables_roles() -> None:
    settings = OrchestratorSettings()
    prices = shipped_prices()
    assert settings.default_model == prices.role("default")
    assert settings.small_request_model == prices.role("small")
    routed = {settings.default_model, settings.small_request_model, *settings.task_models.values()}
    fallbacks = {model for chain in settings.task_fallbacks.values() for model in chain}
    assert routed | fallbacks == set(prices.role_models)


def test_a_request_naming_no_model_holds_the_dearest_role_models_price(
    fakes: Any, helpers: Any
) -> None:
    request = helpers.request()
    request.completion.request.model = ""
    step = BudgetHoldStep(
        request,
        fakes.decisions(helpers.on("budget_enforcement")).budget_enforcement,
        fakes.services(),
    )
    prices = fakes.prices
    each = [step.max_cost(_named(request, model)) for model in prices.role_models]
    assert step.max_cost(request.completion.request) == max(each) > min(each)


def _named(request: Any, model: str) -> Any:
    named = type(request.completion.request)()
    named.CopyFrom(request.completion.request)
    named.model = model
    return named


def test_a_role_naming_an_unpriced_model_is_refused(tmp_path: Any) -> None:
    path = tmp_path / "prices.yaml"
    path.write_text(
        'as_of: "2026-01-01"\nroles: {default: claude-imaginary}\nmodels:\n'
        "  claude-haiku-5-5: {family: haiku, input: 1, output: 1, cache_write_5m: 1,"
        " cache_write_1h: 1, cache_read: 1, min_cacheable_tokens: 1}\n"
    )
    with pytest.raises(ValueError, match="without a price"):
        PriceTable.load(path)
