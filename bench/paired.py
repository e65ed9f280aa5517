"""Two variants of the suite measured at the same time: a before/after that the machine's drift
cannot tilt.

`bench.peer --baseline` measures one side's cell, then the other's. On this shared machine the
CPU a request costs drifts by 10-20% within minutes (bench/NOTES.md), more than most changes are
worth, so two such runs can disagree on the sign of a 5% difference. Here both variants run side
by side (each a whole suite with its own emulator and stores: one process, `python -m
tollgate.single_process`, or seven, as the chart deploys them), each driven by its own
closed-loop clients over the same seconds: whatever the machine does falls on both. A round gives
the ratio of their server CPU per request (every service process's).

Two suites of the same code, started the same way, differ from each other by a few percent however
long they run (an A/A run in bench/NOTES.md, "The twelfth round": 0.94 to 1.04), while the rounds
of one pair agree closely. So the comparison is repeated on fresh pairs of suites (`--pairs`),
alternating which variant starts first; a pair's figure is the median of its rounds, and the
result is the geometric mean of the pairs' figures with their range beside it.

A variant is an interpreter (a checkout's .venv, so its code) and environment variables:

    uv run python -m bench.paired --a-env LD_PRELOAD=libjemalloc.so.2  # an allocator, A/B
    uv run python -m bench.paired --baseline ../main-checkout          # two checkouts
    uv run python -m bench.paired --setup "everything on" --deployment "seven processes"
    uv run python -m bench.paired --pairs 6 --rounds 3 --seconds 8     # finer, longer

The two suites share the machine's two cores, so absolute figures are not the peer table's; only
the ratio is the result.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import statistics
import sys
from collections.abc import Awaitable, Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import psutil

from bench.checkouts import checkout_name, checkout_python
from bench.overhead import ask_unique, closed_loop
from bench.peer import DEPLOYMENTS, ONE, tree_cpu_seconds
from bench.suite_tools import SETUPS, serving_processes
from tollgate.cli.local_suite import local_suite
from tollgate.client import TollgateClient

ROOT = Path(__file__).resolve().parent.parent
CLIENTS_EACH = 8
Flags = dict[str, Any]
PAIRS = 4
ROUNDS = 3
SECONDS = 8.0


@dataclass(frozen=True)
class Variant:
    name: str
    python: str
    env: dict[str, str]


@dataclass(frozen=True)
class Round:
    a_ms: float
    b_ms: float

    @property
    def ratio(self) -> float:
        return self.a_ms / self.b_ms


@dataclass(frozen=True)
class _Driven:
    services: list[psutil.Process]
    call: Callable[[], Awaitable[None]]

    def cpu_seconds(self) -> float:
        return tree_cpu_seconds(self.services)


async def _start(
    stack: contextlib.AsyncExitStack, variant: Variant, flags: Flags, single_process: bool
) -> _Driven:
    """The variant's suite and a client of it, closed with `stack`."""
    suite = await stack.enter_async_context(
        local_suite(
            flags=flags,
            python=variant.python,
            single_process=single_process,
            extra_env=variant.env,
        )
    )
    services = list(serving_processes(suite).values())
    client = await stack.enter_async_context(
        TollgateClient(suite.gateway, suite.api_key, timeout=60)
    )

    async def call() -> None:
        await ask_unique(client)

    return _Driven(services, call)


async def _round(a: _Driven, b: _Driven, seconds: float) -> Round:
    before = [d.cpu_seconds() for d in (a, b)]
    runs = await asyncio.gather(
        *(closed_loop(d.call, CLIENTS_EACH, seconds, warm_up=0) for d in (a, b))
    )
    spent = [d.cpu_seconds() - cpu for d, cpu in zip((a, b), before, strict=True)]
    a_ms, b_ms = (cpu * 1000 / len(run.latencies_ms) for cpu, run in zip(spent, runs, strict=True))
    return Round(a_ms, b_ms)


async def measure(
    a: Variant,
    b: Variant,
    setup: str,
    rounds: int,
    seconds: float,
    deployment: str = ONE,
    b_first: bool = False,
) -> list[Round]:
    """One pair of suites, started one after the other (B's first when `b_first`), measured for
    `rounds` rounds."""
    single_process = DEPLOYMENTS[deployment]
    async with contextlib.AsyncExitStack() as stack:
        order = (b, a) if b_first else (a, b)
        first, second = [await _start(stack, v, SETUPS[setup], single_process) for v in order]
        driven_a, driven_b = (second, first) if b_first else (first, second)
        # Both warmed first: connections, first calls, the interpreters' caches.
        await asyncio.gather(
            *(closed_loop(d.call, CLIENTS_EACH, 2.0) for d in (driven_a, driven_b))
        )
        return [await _round(driven_a, driven_b, seconds) for _ in range(rounds)]


async def measure_pairs(
    a: Variant, b: Variant, setup: str, pairs: int, rounds: int, seconds: float, deployment: str
) -> list[list[Round]]:
    """`pairs` fresh pairs of suites, one after the other, alternating which starts first."""
    return [
        await measure(a, b, setup, rounds, seconds, deployment, b_first=index % 2 == 1)
        for index in range(pairs)
    ]


def pair_ratio(rounds: Sequence[Round]) -> float:
    """A pair's figure: the median of its rounds' A/B."""
    return statistics.median(r.ratio for r in rounds)


def render(
    a: Variant,
    b: Variant,
    results: Mapping[str, Sequence[Sequence[Round]]],
    deployment: str = ONE,
) -> str:
    lines = [
        f"A: {a.name}; B: {b.name}. Server CPU ms per request of each suite ({deployment}), both "
        f"driven at once by {CLIENTS_EACH} clients each; A/B below 1 means A costs less. Each "
        "pair of suites: the median of its rounds' A/B (their range); the result: the pairs' "
        "geometric mean.",
        "",
        "| setup | pairs: A/B (rounds' range) | A/B | pairs' range |",
        "|---|---|---:|---:|",
    ]
    for setup, pairs in results.items():
        figures = [pair_ratio(rounds) for rounds in pairs]
        each = ", ".join(
            f"{figure:.3f} ({min(r.ratio for r in rounds):.3f} to "
            f"{max(r.ratio for r in rounds):.3f})"
            for figure, rounds in zip(figures, pairs, strict=True)
        )
        lines.append(
            f"| {setup} | {each} | {statistics.geometric_mean(figures):.3f} "
            f"| {min(figures):.3f} to {max(figures):.3f} |"
        )
    return "\n".join(lines)


def _variables(pairs: Sequence[str]) -> dict[str, str]:
    env = {}
    for pair in pairs:
        name, equals, value = pair.partition("=")
        if not equals or not name:
            raise SystemExit(f"bench.paired: {pair!r} is not NAME=VALUE")
        env[name] = value
    return env


def _name(checkout: Path, side: str, env: Mapping[str, str]) -> str:
    settings = " ".join(f"{k}={v}" for k, v in env.items())
    return checkout_name(checkout, side) + (f" with {settings}" if settings else "")


def main(argv: list[str] | None = None) -> str:
    parser = argparse.ArgumentParser(
        prog="python -m bench.paired", description=__doc__.split("\n\n")[0]
    )
    parser.add_argument("--baseline", type=Path, help="B's checkout (with .venv); default this one")
    parser.add_argument("--a-env", action="append", default=[], help="NAME=VALUE for A")
    parser.add_argument("--b-env", action="append", default=[], help="NAME=VALUE for B")
    parser.add_argument("--setup", action="append", choices=list(SETUPS), help="default: all")
    parser.add_argument("--deployment", choices=list(DEPLOYMENTS), default=ONE)
    parser.add_argument("--pairs", type=int, default=PAIRS, help="fresh pairs of suites")
    parser.add_argument("--rounds", type=int, default=ROUNDS, help="rounds per pair")
    parser.add_argument("--seconds", type=float, default=SECONDS)
    args = parser.parse_args(argv)
    if args.pairs < 1 or args.rounds < 1 or args.seconds <= 0:
        parser.error("--pairs and --rounds must be at least 1, --seconds more than 0")
    a_env, b_env = _variables(args.a_env), _variables(args.b_env)
    a = Variant(_name(ROOT, "this checkout", a_env), sys.executable, a_env)
    b_root = args.baseline or ROOT
    b_python = checkout_python(b_root) if args.baseline else sys.executable
    b = Variant(
        _name(b_root, "baseline" if args.baseline else "this checkout", b_env), b_python, b_env
    )
    results = {
        setup: asyncio.run(
            measure_pairs(a, b, setup, args.pairs, args.rounds, args.seconds, args.deployment)
        )
        for setup in args.setup or list(SETUPS)
    }
    return render(a, b, results, args.deployment)


if __name__ == "__main__":
    print(main())
