"""Baseline cost and savings: what a request would have cost sent straight to Claude, and what
each optimization took off it. All integer micro-dollars, priced with the shared price table."""

from __future__ import annotations

from tollgate.common.pricing import PriceTable
from tollgate.v1 import common_pb2


class SavingsCalculator:
    def __init__(self, prices: PriceTable) -> None:
        self._prices = prices

    def _known(self, model: str) -> bool:
        return self._prices.knows(model)

    def uncached_cost(self, model: str, usage: common_pb2.Usage) -> int:
        """The cost of `usage` if no prompt-cache read or write had happened."""
        if not self._known(model):
            return 0
        plain = common_pb2.Usage(
            input_tokens=usage.input_tokens
            + usage.cache_read_input_tokens
            + usage.cache_creation_input_tokens,
            output_tokens=usage.output_tokens,
        )
        return self._prices.cost(model, plain).total_micros

    def input_cost(self, model: str, tokens: int) -> int:
        """What `tokens` more input tokens would have cost."""
        if not self._known(model) or tokens <= 0:
            return 0
        return self._prices.cost(model, common_pb2.Usage(input_tokens=tokens)).total_micros

    def actual_cost(self, model: str, usage: common_pb2.Usage) -> common_pb2.Cost:
        return self._prices.cost(model, usage) if self._known(model) else common_pb2.Cost()
