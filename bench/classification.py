"""Packed bulk classification against one call per item, through the gateway.

A real local suite (separate processes; budgets and the exact cache on), Claude played by the
emulator over HTTP with a small latency. The same 1,000 CRM notes are classified three times
with the same instructions (five labels, Haiku):

- one by one: `max_items_per_call = 1`, the item cache bypassed;
- packed: the orchestrator's default packing (up to 10 items per call), the cache bypassed;
- packed, re-run: the same request twice with the cache on; the second run is measured.

Calls are the HTTP requests the emulator received during the run (its own counter, 429s
included); cost is the sum of the items' costs, which add up exactly to the calls' reported
usage priced by the price table. Labels are compared item by item with the one-by-one run.

    uv run python -m bench.classification [--items 1000]
"""

from __future__ import annotations

import argparse
import asyncio
import random
import time
from dataclasses import dataclass
from typing import Any

import httpx

from bench.suite_tools import flags_with, set_emulator_latency
from tollgate.cli.local_suite import local_suite
from tollgate.client import TollgateClient
from tollgate.v1 import classification_pb2, gateway_pb2

LABELS = ["buyer", "seller", "renter", "investor", "spam"]
PLACES = ["Lakeview", "Cedar Park", "Old Town", "Maple Heights", "Riverside", "Elm Street"]
OPENINGS = [
    "Called about the {beds}-bedroom listing near {place}.",
    "Emailed asking whether {place} has good schools.",
    "Left a voicemail after the open house on {place}.",
    "Filled in the web form for a valuation in {place}.",
    "Walk-in at the office, asked about {place}.",
]
DETAILS = [
    "Budget around ${budget}k, pre-approved with a local bank.",
    "Wants to move before the school year starts.",
    "Mentioned a duplex as a possible rental income property.",
    "Asked twice about monthly rent and pet policy.",
    "Owns a {beds}-bed home and may list it this spring.",
    "Prefers weekend showings and a short commute.",
    "Asked about cap rates on multi-family buildings.",
    "Message was mostly links and a discount code.",
]


def notes(count: int) -> list[str]:
    """CRM notes of varied length (one to four sentences), the same on every run."""
    rng = random.Random(20261206)
    texts = []
    for n in range(count):
        values = {
            "beds": rng.randint(1, 5),
            "place": rng.choice(PLACES),
            "budget": rng.randint(250, 1200),
        }
        parts = [rng.choice(OPENINGS), *rng.sample(DETAILS, rng.randint(0, 3))]
        texts.append(f"Note {n}. " + " ".join(part.format(**values) for part in parts))
    return texts


def request(texts: list[str], per_call: int, bypass_cache: bool) -> gateway_pb2.ClassifyRequest:
    return gateway_pb2.ClassifyRequest(
        instructions=classification_pb2.ClassificationInstructions(
            prompt="The lead's role in the deal, from this CRM note.",
            labels=classification_pb2.LabelSet(labels=LABELS),
            version="bench-1",
            model="claude-haiku-5-5",
        ),
        items=[
            classification_pb2.ClassificationItem(id=f"item-{i}", text=t)
            for i, t in enumerate(texts)
        ],
        max_items_per_call=per_call,
        bypass_cache=bypass_cache,
    )


@dataclass
class Run:
    name: str
    items: int
    calls: int
    http_429: int
    cost_micros: int
    input_tokens: int
    output_tokens: int
    seconds: float
    labels: dict[str, str]
    failed: int
    cached: int

    def per_item(self, value: float) -> float:
        return value / self.items


async def emulator_counts(http: httpx.AsyncClient) -> tuple[int, int]:
    stats = (await http.get("/_emulator/stats", params={"limit": 0})).json()
    return int(stats["requests_total"]), int(stats["status_counts"].get("429", 0))


async def classify(
    client: TollgateClient, http: httpx.AsyncClient, name: str, call: gateway_pb2.ClassifyRequest
) -> Run:
    (await http.post("/_emulator/reset", json={})).raise_for_status()
    started = time.perf_counter()
    results = [reply.result async for reply in client.stub.Classify(call, metadata=client.metadata)]
    seconds = time.perf_counter() - started
    calls, throttled = await emulator_counts(http)
    return Run(
        name=name,
        items=len(results),
        calls=calls,
        http_429=throttled,
        cost_micros=sum(r.cost.total_micros for r in results),
        input_tokens=sum(r.usage.input_tokens for r in results),
        output_tokens=sum(r.usage.output_tokens for r in results),
        seconds=seconds,
        labels={r.item_id: r.label for r in results if r.label},
        failed=sum(1 for r in results if r.error),
        cached=sum(1 for r in results if r.cached),
    )


async def run(items: int) -> str:
    texts = notes(items)
    flags: dict[str, Any] = flags_with(("budget_enforcement", "exact_cache"))
    async with local_suite(flags=flags) as suite:
        # A little latency, so that wall time means something; the figures compared are calls
        # and cost, which latency does not change.
        await set_emulator_latency(suite.emulator_url, 50, 2000)
        async with (
            TollgateClient(suite.gateway, suite.api_key, timeout=600) as client,
            httpx.AsyncClient(base_url=suite.emulator_url, timeout=30) as http,
        ):
            single = await classify(client, http, "one by one (k = 1)", request(texts, 1, True))
            packed = await classify(client, http, "packed (k ≤ 10)", request(texts, 0, True))
            await classify(
                client, http, "packed, first run with the cache", request(texts, 0, False)
            )
            # The gateway stores each item after streaming its result, in the background: give
            # the last stores of the first run a moment before the re-run looks them up.
            await asyncio.sleep(1.0)
            rerun = await classify(
                client, http, "packed, re-run (item cache)", request(texts, 0, False)
            )
    return table(single, [single, packed, rerun])


def table(baseline: Run, runs: list[Run]) -> str:
    lines = [
        f"{baseline.items} CRM notes, five labels, claude-haiku-5-5; emulator latency 50 ms + "
        "2,000 tokens/s; budgets and the exact cache on.",
        "",
        "| run | calls | calls / item | fewer calls | input tokens / item "
        "| output tokens / item | cost / item (µ$) | cheaper | labels equal to one by one "
        "| failed | from cache | wall s |",
        "|---|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|",
    ]
    for run_ in runs:
        fewer = f"{baseline.calls / run_.calls:.1f}x" if run_.calls else "all"
        cheaper = 1 - run_.cost_micros / baseline.cost_micros
        equal = sum(1 for k, v in baseline.labels.items() if run_.labels.get(k) == v)
        lines.append(
            f"| {run_.name} | {run_.calls} | {run_.per_item(run_.calls):.3f} | "
            f"{'—' if run_ is baseline else fewer} | "
            f"{run_.per_item(run_.input_tokens):.1f} | {run_.per_item(run_.output_tokens):.1f} | "
            f"{run_.per_item(run_.cost_micros):.2f} | "
            f"{'—' if run_ is baseline else f'{cheaper:.1%}'} | "
            f"{equal} of {baseline.items} | {run_.failed} | {run_.cached} | {run_.seconds:.1f} |"
        )
    lines += [
        "",
        f"429s answered by the emulator: {', '.join(f'{r.name}: {r.http_429}' for r in runs)}.",
    ]
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--items", type=int, default=1000)
    arguments = parser.parse_args()
    print(asyncio.run(run(arguments.items)))


if __name__ == "__main__":
    main()
