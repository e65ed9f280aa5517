"""The model catalogue and its prices, and exact cost from usage in integer micro-dollars.

Prices are micro-dollars per million tokens, so a component's cost is
`tokens * price / 1_000_000`. Each component is rounded up to a whole micro-dollar (a charge is
never under-counted) and the total is the sum of the rounded components, so the parts always add
up to the total a caller sees.
"""

from __future__ import annotations

import functools
from dataclasses import dataclass
from importlib import resources
from pathlib import Path
from typing import Any

import yaml

from tollgate.v1 import common_pb2

PER_MILLION = 1_000_000


@dataclass(frozen=True)
class Rates:
    """Micro-dollars per million tokens for each kind of token."""

    input: int
    output: int
    cache_write_5m: int
    cache_write_1h: int
    cache_read: int


@dataclass(frozen=True)
class ModelPrice:
    model: str
    family: str
    rates: Rates
    min_cacheable_tokens: int
    # Prompt plus max_tokens may not exceed this.
    context_window_tokens: int = 200_000
    # Some models charge every token of a request at higher rates once its prompt passes a size.
    long_prompt_threshold: int = 0
    long_prompt_rates: Rates | None = None

    @property
    def input(self) -> int:
        return self.rates.input

    @property
    def output(self) -> int:
        return self.rates.output

    def rates_for(self, prompt_tokens: int) -> Rates:
        if self.long_prompt_rates and prompt_tokens > self.long_prompt_threshold:
            return self.long_prompt_rates
        return self.rates


def _rates(entry: dict[str, Any]) -> Rates:
    return Rates(
        input=entry["input"],
        output=entry["output"],
        cache_write_5m=entry["cache_write_5m"],
        cache_write_1h=entry["cache_write_1h"],
        cache_read=entry["cache_read"],
    )


def _model_price(name: str, entry: dict[str, Any]) -> ModelPrice:
    long_prompt = entry.get("long_prompt")
    return ModelPrice(
        model=name,
        family=str(entry["family"]),
        rates=_rates(entry),
        min_cacheable_tokens=int(entry["min_cacheable_tokens"]),
        context_window_tokens=int(entry.get("context_window_tokens", 200_000)),
        long_prompt_threshold=int(long_prompt["threshold_tokens"]) if long_prompt else 0,
        long_prompt_rates=_rates(long_prompt) if long_prompt else None,
    )


def _ceil_div(numerator: int, denominator: int) -> int:
    return -(-numerator // denominator)


def _component(tokens: int, price_per_million: int, discount_percent: int) -> int:
    return _ceil_div(tokens * price_per_million * (100 - discount_percent), PER_MILLION * 100)


class PriceTable:
    def __init__(
        self,
        prices: dict[str, ModelPrice],
        as_of: str,
        batch_discount_percent: int,
        roles: dict[str, str] | None = None,
    ) -> None:
        self._prices = prices
        self.as_of = as_of
        self.batch_discount_percent = batch_discount_percent
        self._roles = dict(roles or {})
        unpriced = sorted(model for model in self._roles.values() if model not in prices)
        if unpriced:
            raise ValueError(f"roles name models without a price: {unpriced}")

    @classmethod
    def load(cls, path: str | Path | None = None) -> PriceTable:
        """Load a price file; without a path, the table shipped with Tollgate."""
        if path:
            text = Path(path).read_text()
        else:
            text = resources.files("tollgate.common").joinpath("prices.yaml").read_text()
        data = yaml.safe_load(text)
        prices = {name: _model_price(name, entry) for name, entry in data["models"].items()}
        return cls(
            prices,
            str(data["as_of"]),
            int(data.get("batch_discount_percent", 50)),
            {str(role): str(model) for role, model in (data.get("roles") or {}).items()},
        )

    def role(self, name: str) -> str:
        """The model that plays `name` (default, small) by default."""
        try:
            return self._roles[name]
        except KeyError:
            raise KeyError(
                f"no model has the role {name!r}; roles: {sorted(self._roles)}"
            ) from None

    @property
    def role_models(self) -> list[str]:
        """Every model with a role: what a request naming no model may be routed to."""
        return sorted(set(self._roles.values()))

    @property
    def models(self) -> list[str]:
        return sorted(self._prices)

    def knows(self, model: str) -> bool:
        return model in self._prices

    def price(self, model: str) -> ModelPrice:
        try:
            return self._prices[model]
        except KeyError:
            raise KeyError(f"no price for model {model!r}; known: {self.models}") from None

    def cost(self, model: str, usage: common_pb2.Usage, *, batch: bool = False) -> common_pb2.Cost:
        """Exact cost of `usage` on `model`, cache writes split by TTL and reads included."""
        discount = self.batch_discount_percent if batch else 0
        prompt_tokens = (
            usage.input_tokens + usage.cache_read_input_tokens + usage.cache_creation_input_tokens
        )
        price = self.price(model).rates_for(prompt_tokens)
        write_5m = usage.cache_creation_5m_input_tokens
        write_1h = usage.cache_creation_1h_input_tokens
        # Usage that reports only the total of cache writes is priced at the 5-minute rate.
        unsplit = usage.cache_creation_input_tokens - write_5m - write_1h
        if unsplit > 0:
            write_5m += unsplit
        input_micros = _component(usage.input_tokens, price.input, discount)
        output_micros = _component(usage.output_tokens, price.output, discount)
        write_micros = _component(write_5m, price.cache_write_5m, discount) + _component(
            write_1h, price.cache_write_1h, discount
        )
        read_micros = _component(usage.cache_read_input_tokens, price.cache_read, discount)
        return common_pb2.Cost(
            total_micros=input_micros + output_micros + write_micros + read_micros,
            input_micros=input_micros,
            output_micros=output_micros,
            cache_write_micros=write_micros,
            cache_read_micros=read_micros,
            prices_as_of=self.as_of,
        )

    def max_cost(self, model: str, input_tokens: int, max_output_tokens: int) -> int:
        """The most a request can cost: every input token uncached, every output token used.

        Cache writes cost more than plain input, so a request that may write the cache is priced
        with its input at the 1-hour write rate: a reservation must never be too small.
        """
        price = self.price(model).rates_for(input_tokens)
        worst_input = max(price.input, price.cache_write_5m, price.cache_write_1h)
        return _component(input_tokens, worst_input, 0) + _component(
            max_output_tokens, price.output, 0
        )


@functools.cache
def shipped_prices() -> PriceTable:
    """The price table shipped with Tollgate, loaded once (defaults of settings derive from it)."""
    return PriceTable.load()
