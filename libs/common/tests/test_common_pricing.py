"""Cost from usage in integer micro-dollars, checked against hand-computed values."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.common.pricing import PriceTable
from tollgate.v1 import common_pb2


@pytest.fixture
def prices(tmp_path: Path) -> PriceTable:
    path = tmp_path / "prices.yaml"
    path.write_text(
        """
as_of: "2026-01-01"
batch_discount_percent: 50
models:
  m:
    family: sonnet
    input: 3000000
    output: 15000000
    cache_write_5m: 3750000
    cache_write_1h: 6000000
    cache_read: 300000
    min_cacheable_tokens: 1024
  tiered:
    family: haiku
    input: 100000
    output: 500000
    cache_write_5m: 125000
    cache_write_1h: 200000
    cache_read: 10000
    min_cacheable_tokens: 2048
    long_prompt: {threshold_tokens: 1000, input: 500000, output: 2500000,
                  cache_write_5m: 625000, cache_write_1h: 1000000, cache_read: 50000}
"""
    )
    return PriceTable.load(path)


def test_plain_input_and_output(prices: PriceTable) -> None:
    cost = prices.cost("m", common_pb2.Usage(input_tokens=1000, output_tokens=200))
    # 1000 x $3/M = $0.003 = 3000 µ$; 200 x $15/M = 3000 µ$.
    assert (cost.input_micros, cost.output_micros, cost.total_micros) == (3000, 3000, 6000)
    assert cost.prices_as_of == "2026-01-01"


def test_five_minute_and_one_hour_cache_writes(prices: PriceTable) -> None:
    usage = common_pb2.Usage(
        input_tokens=10,
        cache_creation_input_tokens=3000,
        cache_creation_5m_input_tokens=2000,
        cache_creation_1h_input_tokens=1000,
    )
    cost = prices.cost("m", usage)
    # 2000 x 3.75 = 7500 µ$ plus 1000 x 6 = 6000 µ$; 10 input tokens = 30 µ$.
    assert cost.cache_write_micros == 13_500
    assert cost.total_micros == 13_530


def test_cache_reads_cost_a_tenth(prices: PriceTable) -> None:
    cost = prices.cost("m", common_pb2.Usage(input_tokens=5, cache_read_input_tokens=4000))
    assert cost.cache_read_micros == 1200
    assert cost.total_micros == 1215


def test_fractions_of_a_micro_dollar_round_up_per_component(prices: PriceTable) -> None:
    cost = prices.cost("m", common_pb2.Usage(input_tokens=1, cache_read_input_tokens=1))
    # 1 x 3 µ$ = 3; 1 x 0.3 µ$ rounds up to 1.
    assert (cost.input_micros, cost.cache_read_micros, cost.total_micros) == (3, 1, 4)


def test_unsplit_cache_writes_are_priced_at_the_five_minute_rate(prices: PriceTable) -> None:
    cost = prices.cost("m", common_pb2.Usage(cache_creation_input_tokens=1000))
    assert cost.cache_write_micros == 3750


def test_long_prompts_pay_the_higher_band_on_every_token(prices: PriceTable) -> None:
    short = prices.cost("tiered", common_pb2.Usage(input_tokens=1000, output_tokens=100))
    long = prices.cost("tiered", common_pb2.Usage(input_tokens=1001, output_tokens=100))
    assert (short.input_micros, short.output_micros) == (100, 50)
    assert (long.input_micros, long.output_micros) == (501, 250)


def test_batch_discount_halves_the_price(prices: PriceTable) -> None:
    cost = prices.cost("m", common_pb2.Usage(input_tokens=1000, output_tokens=200), batch=True)
    assert cost.total_micros == 3000


def test_max_cost_never_underestimates_a_cache_write(prices: PriceTable) -> None:
    # Input priced at the 1-hour write rate (the dearest), output at the output rate.
    assert prices.max_cost("m", 1000, 100) == 6000 + 1500


def test_shipped_table_loads_and_unknown_models_are_named(prices: PriceTable) -> None:
    table = PriceTable.load()
    assert table.knows("claude-sonnet-5-5")
    with pytest.raises(KeyError, match="no price for model"):
        table.price("gpt-4o")
