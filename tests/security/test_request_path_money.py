"""The gateway's request path against reused request ids (issue 17, finding 2): Claude is asked
only when the ledger made a new hold, and a hold belongs to the key that made it. Each test ends
on the ledger's exact total against what the emulator billed."""

from __future__ import annotations

import asyncio
import re
from typing import Any

import grpc
import pytest

from tests.conftest import API_KEY, TENANT_ADMIN_KEY, FullSuite
from tests.security.conftest import set_tenant_budget, upstream_cost_micros
from tollgate.client import TollgateError


async def test_fifty_concurrent_requests_under_one_id_never_spend_past_the_budget(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    limit = 5_000
    await set_tenant_budget(full_suite, "acme", limit)
    async with full_suite.client(API_KEY) as acme:
        # Fifty questions of the same size, so the same hold (the ledger treats them as
        # retries of one request), each different, so no cache answers them.
        calls = [
            acme.complete(
                **ask(f"Question {i} under one id.", request_id="req-one-id", max_tokens=200)
            )
            for i in range(10, 60)
        ]
        outcomes = await asyncio.gather(*calls, return_exceptions=True)
    answered = [o for o in outcomes if not isinstance(o, BaseException)]
    refused = {o.code for o in outcomes if isinstance(o, TollgateError)}
    assert len(answered) <= 1
    assert refused <= {grpc.StatusCode.ALREADY_EXISTS, grpc.StatusCode.RESOURCE_EXHAUSTED}
    assert full_suite.upstream_calls() == len(answered)
    requests, cost = await read_usage(full_suite, "acme")
    assert (requests, cost) == (len(answered), upstream_cost_micros(full_suite))
    assert 0 < cost <= limit


async def test_a_repeated_request_id_is_refused_with_a_sentence(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        first = await acme.complete(**ask("Summarize the viewing.", request_id="req-twice"))
        with pytest.raises(TollgateError) as refused:
            await acme.complete(**ask("Something else entirely.", request_id="req-twice"))
    assert refused.value.code == grpc.StatusCode.ALREADY_EXISTS
    assert "new request_id" in refused.value.message
    assert full_suite.upstream_calls() == 1
    assert await read_usage(full_suite, "acme") == (1, first.account.cost.total_micros)


async def test_another_key_cannot_settle_a_live_hold(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as app, full_suite.client(TENANT_ADMIN_KEY) as other:
        stream = app.stream(**ask("Write a long listing description.", request_id="req-live"))
        events = stream.__aiter__()
        await events.__anext__()  # the hold is live and Claude is answering
        with pytest.raises(TollgateError) as refused:
            await other.complete(**ask("Take it over.", request_id="req-live"))
        async for _ in events:
            pass
        account = stream.account
    assert refused.value.code in (
        grpc.StatusCode.ALREADY_EXISTS,
        grpc.StatusCode.PERMISSION_DENIED,
    )
    assert full_suite.upstream_calls() == 1
    # The first caller's hold was committed at its cost, not released by the other key.
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))
    assert account is not None
    assert account.cost.total_micros == upstream_cost_micros(full_suite)


def _held_micros(account: Any) -> int:
    detail = next(r.detail for r in account.optimizations if r.optimization == "budget_enforcement")
    match = re.fullmatch(r"held (\d+) micro-dollars", detail)
    assert match, detail
    return int(match.group(1))


async def test_a_large_template_variable_is_held_at_its_cost(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        answer = await acme.complete(
            **ask("Say hello.", max_tokens=50), template_variables={"company": "x" * 300_000}
        )
    cost = answer.account.cost.total_micros
    assert 0 < cost <= _held_micros(answer.account)
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))


async def test_a_megabyte_template_variable_is_refused_before_claude(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    async with full_suite.client(API_KEY) as acme:
        with pytest.raises(TollgateError) as refused:
            await acme.complete(
                **ask("Say hello.", max_tokens=50), template_variables={"company": "x" * 1_000_000}
            )
    assert refused.value.code in (
        grpc.StatusCode.INVALID_ARGUMENT,
        grpc.StatusCode.RESOURCE_EXHAUSTED,
    )
    assert full_suite.upstream_calls() == 0
    assert await read_usage(full_suite, "acme") == (0, 0)


async def test_crafted_text_across_the_long_prompt_tier_never_costs_more_than_its_hold(
    full_suite: FullSuite, ask: Any, read_usage: Any
) -> None:
    # "a\\t" is 2 tokens per pair for the emulator: 120,000 tokens, past claude-haiku-5-5's
    # 100,000-token threshold, where every token is priced at the long-prompt rates.
    async with full_suite.client(API_KEY) as acme:
        answer = await acme.complete(**ask("a\t" * 60_000, max_tokens=50, model="claude-haiku-5-5"))
    assert answer.response.usage.input_tokens > 100_000
    cost = answer.account.cost.total_micros
    assert 0 < cost <= _held_micros(answer.account)
    assert await read_usage(full_suite, "acme") == (1, upstream_cost_micros(full_suite))
