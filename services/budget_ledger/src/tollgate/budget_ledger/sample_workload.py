"""`python -m tollgate.budget_ledger.sample_workload`: drive a ledger with a realistic mix.

Sets a tenant's budgets, then for a while sends what the gateway would: for each request either a
cache hit (RecordUsage, nothing reserved) or Reserve → Commit of a priced Claude call, with the
optimizations that applied, a few releases and one deliberate over-hold. Used to fill a local
ledger for `tollgate report` and its screenshot; it never calls Claude.
"""

from __future__ import annotations

import argparse
import asyncio
import random
import secrets

import grpc

from tollgate.v1 import budget_ledger_pb2 as pb
from tollgate.v1 import budget_ledger_pb2_grpc, common_pb2

# (model, input µ$ per token, output µ$ per token): list prices of the day, in micro-dollars.
MODELS = [("claude-sonnet-4-5", 3, 15), ("claude-haiku-4-5", 1, 5), ("claude-opus-4-1", 15, 75)]
TASKS = [
    common_pb2.TASK_TYPE_CHAT,
    common_pb2.TASK_TYPE_LEAD_ANALYSIS,
    common_pb2.TASK_TYPE_REPORT,
    common_pb2.TASK_TYPE_SCRIPT,
]
KEYS = ["crm-web", "crm-mobile", "nightly-reports"]
ENFORCE = common_pb2.FLAG_MODE_ENFORCE
SHADOW = common_pb2.FLAG_MODE_SHADOW


async def set_budgets(stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub, tenant: str) -> None:
    budgets = [
        (pb.SCOPE_KIND_TENANT, "", pb.BUDGET_PERIOD_DAY, 12_000_000),
        (pb.SCOPE_KIND_TENANT, "", pb.BUDGET_PERIOD_MONTH, 200_000_000),
        (pb.SCOPE_KIND_API_KEY, "crm-web", pb.BUDGET_PERIOD_DAY, 5_000_000),
        (pb.SCOPE_KIND_API_KEY, "nightly-reports", pb.BUDGET_PERIOD_DAY, 3_000_000),
        (pb.SCOPE_KIND_CONTACT, "lead-0007", pb.BUDGET_PERIOD_MONTH, 250_000),
    ]
    for kind, subject, period, limit in budgets:
        await stub.UpsertBudget(
            pb.UpsertBudgetRequest(
                budget=pb.Budget(
                    scope=pb.BudgetScope(kind=kind, tenant_id=tenant, subject_id=subject),
                    period=period,
                    limit_micros=limit,
                    alert_thresholds_percent=[50, 80, 100],
                ),
                actor="sample-workload",
            )
        )


def _priced(model: tuple[str, int, int], rng: random.Random) -> tuple[common_pb2.Usage, int]:
    _, input_price, output_price = model
    usage = common_pb2.Usage(
        input_tokens=rng.randint(400, 6_000),
        output_tokens=rng.randint(80, 900),
        cache_read_input_tokens=rng.choice([0, 0, 2_000, 4_000]),
    )
    cost = (
        usage.input_tokens * input_price
        + usage.output_tokens * output_price
        + usage.cache_read_input_tokens * input_price // 10
    )
    return usage, cost


async def one_request(
    stub: budget_ledger_pb2_grpc.BudgetLedgerServiceStub, tenant: str, rng: random.Random
) -> None:
    model = rng.choices(MODELS, weights=[6, 3, 1])[0]
    context = common_pb2.RequestContext(
        tenant_id=tenant,
        api_key_id=rng.choice(KEYS),
        contact_id=f"lead-{rng.randint(1, 40):04d}",
        request_id="req_" + secrets.token_hex(8),
        task=rng.choice(TASKS),
    )
    usage, cost = _priced(model, rng)
    trimmed = rng.randint(200, 3_000) if rng.random() < 0.55 else 0
    conversation_saving = trimmed * model[1]
    baseline = cost + conversation_saving + usage.cache_read_input_tokens * model[1] * 9 // 10
    optimizations = [
        common_pb2.OptimizationReport(
            optimization="prompt_caching",
            mode=ENFORCE,
            applied=usage.cache_read_input_tokens > 0,
            tokens_saved=usage.cache_read_input_tokens,
            micros_saved=usage.cache_read_input_tokens * model[1] * 9 // 10,
        ),
        common_pb2.OptimizationReport(
            optimization="conversation_optimization",
            mode=ENFORCE,
            applied=trimmed > 0,
            tokens_saved=trimmed,
            micros_saved=conversation_saving,
        ),
    ]
    roll = rng.random()
    if roll < 0.30:
        status = common_pb2.CACHE_STATUS_EXACT if roll < 0.2 else common_pb2.CACHE_STATUS_SEMANTIC
        name = "exact_cache" if status == common_pb2.CACHE_STATUS_EXACT else "semantic_cache"
        hit = common_pb2.OptimizationReport(
            optimization=name, mode=ENFORCE, applied=True, micros_saved=baseline
        )
        record = pb.UsageRecord(
            model=model[0],
            task=context.task,
            usage=common_pb2.Usage(),
            baseline_cost_micros=baseline,
            cache_status=status,
            optimizations=[hit],
        )
        await stub.RecordUsage(pb.RecordUsageRequest(context=context, record=record))
        return
    shadow = common_pb2.OptimizationReport(
        optimization="semantic_cache",
        mode=SHADOW,
        applied=rng.random() < 0.25,
        micros_saved=cost,
    )
    hold = cost + 1_000 * model[2]  # the maximum the request could cost
    try:
        await stub.Reserve(pb.ReserveRequest(context=context, amount_micros=hold))
    except grpc.aio.AioRpcError as error:
        if error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED:
            return  # the gateway would answer RESOURCE_EXHAUSTED with the budget state
        raise
    if rng.random() < 0.03:
        await stub.Release(pb.ReleaseRequest(context=context))  # the caller gave up
        return
    actual = cost if rng.random() > 0.01 else hold + 500  # rarely, more than was held
    await stub.Commit(
        pb.CommitRequest(
            context=context,
            actual_micros=actual,
            actual_tokens=usage.input_tokens + usage.output_tokens,
            record=pb.UsageRecord(
                model=model[0],
                task=context.task,
                usage=usage,
                cost=common_pb2.Cost(total_micros=actual),
                baseline_cost_micros=max(baseline, actual),
                cache_status=common_pb2.CACHE_STATUS_MISS,
                optimizations=[*optimizations, shadow],
            ),
        )
    )


async def drive(address: str, tenant: str, requests: int, seconds: float, seed: int) -> None:
    rng = random.Random(seed)
    async with grpc.aio.insecure_channel(address) as channel:
        stub = budget_ledger_pb2_grpc.BudgetLedgerServiceStub(channel)
        await set_budgets(stub, tenant)
        pause = seconds / requests if requests else 0.0
        for _ in range(requests):
            await one_request(stub, tenant, rng)
            if pause:
                await asyncio.sleep(pause)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tollgate.budget_ledger.sample_workload")
    parser.add_argument("--ledger", default="127.0.0.1:50055", metavar="HOST:PORT")
    parser.add_argument("--tenant", default="sample-realty")
    parser.add_argument("--requests", type=int, default=600)
    parser.add_argument(
        "--seconds", type=float, default=0.0, help="spread the requests over this long"
    )
    parser.add_argument("--seed", type=int, default=7)
    args = parser.parse_args(argv)
    asyncio.run(drive(args.ledger, args.tenant, args.requests, args.seconds, args.seed))
    print(f"sent {args.requests} requests for {args.tenant} to {args.ledger}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
