"""A long conversation through the gateway is sent shorter, keeps its facts, and the account
says how many tokens and micro-dollars the optimizer saved."""

from __future__ import annotations

from copy import deepcopy
from pathlib import Path
from typing import Any

from tests.conftest import ADMIN_KEY, ALL_ON, running_full_suite
from tollgate.emulator import EmulatorServer
from tollgate.v1 import gateway_pb2

FLAGS: dict[str, Any] = deepcopy(ALL_ON)
FLAGS["flags"]["conversation_optimization"] = {
    "enabled": True,
    "rolloutPercent": 100,
    "mode": "enforce",
}
FLAGS["flags"]["prompt_caching"]["enabled"] = False


def _conversation(turns: int) -> list[dict[str, str]]:
    messages = []
    for turn in range(turns):
        user = (
            "Hi again, thanks so much!"
            if turn % 3
            else f"Turn {turn}: our budget is $4{turn}0,000 and we want to move by May {turn + 1}."
        )
        messages.append({"role": "user", "content": user})
        messages.append(
            {"role": "assistant", "content": f"Noted, I will look for homes that fit ({turn})."}
        )
    messages.append({"role": "user", "content": "Which listings fit everything I said?"})
    return messages


async def test_a_long_conversation_is_sent_shorter_with_its_facts(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    async with (
        running_full_suite(
            emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, FLAGS
        ) as suite,
        suite.client() as client,
    ):
        result = await client.complete(
            model="claude-sonnet-5-5",
            system="You are the assistant of a real-estate CRM.",
            messages=_conversation(24),
            max_tokens=200,
        )
    report = next(
        r for r in result.account.optimizations if r.optimization == "conversation_optimization"
    )
    assert report.applied
    assert report.tokens_saved > 0
    assert report.micros_saved > 0
    assert result.account.baseline_cost_micros > result.account.cost.total_micros
    sent = next(r.body for r in emulator.stats.requests if r.path == "/v1/messages")
    assert len(sent["messages"]) < 49
    everything_sent = str(sent)
    # The budget stated in the first turn survives, verbatim or in the facts note.
    assert "$400,000" in everything_sent


async def test_the_optimizers_summaries_are_charged_with_the_request(
    emulator: EmulatorServer,
    tmp_path: Path,
    redis_url: str,
    redis_namespace: str,
    postgres_dsn: str,
) -> None:
    flags = deepcopy(FLAGS)
    flags["flags"]["conversation_optimization"]["parameters"] = {
        "strategies": ["keep_recent", "summarize"],
        "targetTokens": 400,
    }
    async with running_full_suite(
        emulator, tmp_path, redis_url, redis_namespace, postgres_dsn, flags
    ) as suite:
        async with suite.client() as client:
            result = await client.complete(
                model="claude-sonnet-5-5", messages=_conversation(30), max_tokens=100
            )
        await suite.settled()
        cost = result.account.cost
        # Claude answered twice for this request: the summaries, then the answer itself.
        summaries = [r for r in emulator.stats.requests if r.path == "/v1/messages"][:-1]
        assert summaries
        assert cost.summary_micros > 0
        async with suite.client(ADMIN_KEY) as admin:
            usage = await admin.stub.GetUsageReport(
                gateway_pb2.GetUsageReportRequest(tenant_id="acme"), metadata=admin.metadata
            )
    # The ledger holds what the tenant was charged: the answer and the summaries.
    assert usage.report.totals.cost_micros == cost.total_micros
    assert cost.total_micros > cost.summary_micros
