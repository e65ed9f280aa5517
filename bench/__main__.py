"""`make bench`: run every benchmark and rewrite docs/benchmarks.md.

Each benchmark runs as its own process (`python -m bench.<module> ...`), one after the other, so
none shares an event loop, a warm cache or a CPU with another; its markdown output goes into
docs/benchmarks.md under its own heading with the exact command and how long it took. A
benchmark that fails is reported as failed in the document (with the end of its error output)
and the runner exits non-zero after writing everything else.

    uv run python -m bench                 # everything, full sizes, a 2-minute soak
    uv run python -m bench --quick         # smaller sizes, for a quicker look
    uv run python -m bench --only overhead --only savings
"""

from __future__ import annotations

import argparse
import collections
import shlex
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
OUTPUT = ROOT / "docs" / "benchmarks.md"
SOAK_REPORT = ROOT / "docs" / "soak.md"
# Reading of the figures (where the time goes, the profiles, what changed because of them):
# written by people, carried into the generated document as it stands.
NOTES = ROOT / "bench" / "NOTES.md"
# The short soak of `make bench`; `make soak` runs the full ten minutes into docs/soak.md.
BENCH_SOAK_MINUTES = 2


@dataclass(frozen=True)
class Benchmark:
    module: str
    title: str
    full: tuple[str, ...] = ()
    quick: tuple[str, ...] = ()

    def arguments(self, quick: bool) -> tuple[str, ...]:
        return self.quick if quick else self.full


BENCHMARKS = (
    Benchmark("savings", "Savings on the demo workload (headline)"),
    Benchmark("overhead", "Overhead: latency added, sustained rate, hits", quick=("--quick",)),
    Benchmark(
        "peer",
        "Beside LiteLLM's proxy: server CPU per request, rate, added latency, memory",
        quick=("--quick",),
    ),
    Benchmark(
        "soak",
        f"Soak ({BENCH_SOAK_MINUTES} minutes; the full 10-minute run is in soak.md)",
        full=("--minutes", str(BENCH_SOAK_MINUTES)),
        quick=("--minutes", "1"),
    ),
    Benchmark(
        "http_door",
        "The two doors: HTTP (Messages API) beside gRPC",
        quick=("--requests", "100", "--rounds", "2"),
    ),
    Benchmark("interceptor", "Shared server interceptor cost per RPC", quick=("--calls", "1000")),
    Benchmark(
        "http_access", "HTTP door access log and metrics per request", quick=("--requests", "1000")
    ),
    Benchmark("cache_lookup", "Exact-cache lookup", quick=("--calls", "500")),
    Benchmark(
        "cache_batch",
        "Exact-cache calls in ExactBatch RPCs vs one RPC each",
        quick=("--requests", "500", "--rounds", "2"),
    ),
    Benchmark("semantic_lookup", "Semantic-cache lookup", quick=("--sizes", "10000")),
    Benchmark(
        "semantic_miss",
        "Semantic-cache miss: CPU of a lookup and a store",
        quick=("--runs", "2", "--misses", "480"),
    ),
    Benchmark("semantic_eval", "Semantic-cache precision and recall"),
    Benchmark(
        "semantic_retrieval",
        "Semantic-cache retrieval: static vectors beside the model's, through the cache",
        quick=("--distractors", "500"),
    ),
    Benchmark("ledger", "Budget ledger", quick=("--pairs", "100")),
    Benchmark("orchestrator_concurrency", "Orchestrator adaptive concurrency"),
    Benchmark(
        "classification", "Packed classification vs one call per item", quick=("--items", "200")
    ),
    Benchmark("pacing", "Fleet-wide pacing across orchestrator replicas"),
    Benchmark("lead_scoring", "Lead scoring", quick=("--leads", "2000", "--reasoning-leads", "20")),
    Benchmark("optimizer", "Conversation optimizer latency", quick=("--iterations", "200")),
    Benchmark("pruning_eval", "Conversation optimizer: token reduction and fact retention"),
    Benchmark(
        "pruning_dialogues",
        "Conversation optimizer on the frozen test split: facts, corrections, targets, cost replay",
    ),
    Benchmark("pruning_summaries", "Conversation optimizer: Claude summaries vs local strategies"),
    Benchmark("token_estimate", "Token estimate accuracy"),
    Benchmark("delivery", "Images: build context and installed environment"),
)


@dataclass(frozen=True)
class Outcome:
    benchmark: Benchmark
    command: str
    seconds: float
    output: str
    failed: bool


def run_one(benchmark: Benchmark, quick: bool, position: str) -> Outcome:
    """Run one benchmark; its stderr (progress, then any error) shows as it comes."""
    arguments = benchmark.arguments(quick)
    command = " ".join(["uv run python -m", f"bench.{benchmark.module}", *arguments])
    print(f"[{position}] {benchmark.title}: {command}", file=sys.stderr, flush=True)
    started = time.monotonic()
    process = subprocess.Popen(
        [sys.executable, "-m", f"bench.{benchmark.module}", *arguments],
        cwd=ROOT,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    assert process.stdout is not None  # a pipe, as asked
    assert process.stderr is not None
    out, err = process.stdout, process.stderr
    # stdout is read on a thread so neither pipe can fill up while the other is read.
    stdout: list[str] = []
    reader = threading.Thread(target=lambda: stdout.append(out.read()))
    reader.start()
    recent_errors: collections.deque[str] = collections.deque(maxlen=15)
    for line in err:
        print(line, end="", file=sys.stderr, flush=True)
        recent_errors.append(line.rstrip("\n"))
    returncode = process.wait()
    reader.join()
    seconds = time.monotonic() - started
    if returncode != 0:
        print(f"[{position}] failed after {seconds:.0f} s", file=sys.stderr, flush=True)
        tail = "\n".join(recent_errors)
        output = f"**Failed** (exit {returncode}):\n\n```\n{tail}\n```"
        return Outcome(benchmark, command, seconds, output, True)
    print(f"[{position}] done in {seconds:.0f} s", file=sys.stderr, flush=True)
    return Outcome(benchmark, command, seconds, "".join(stdout).strip(), False)


def machine() -> list[str]:
    """The machine, from the same commands a reader would type."""
    lines = []
    for command in ("nproc", "free -h", "grep -m1 'model name' /proc/cpuinfo", "uname -srm"):
        result = subprocess.run(command, shell=True, capture_output=True, text=True, check=False)
        lines += [f"$ {command}", result.stdout.strip()]
    return lines


def document(outcomes: list[Outcome], quick: bool, argv: list[str]) -> str:
    now = datetime.now(UTC)
    invocation = "uv run python -m bench" + ("" if not argv else " " + shlex.join(argv))
    headline = next((o for o in outcomes if o.benchmark.module == "savings"), None)
    parts = [
        "# Benchmarks",
        "",
        f"Generated by `make bench` (`{invocation}`) on {now:%Y-%m-%d %H:%M} UTC"
        + (" with `--quick` sizes" if quick else "")
        + ". Every figure is measured against its baseline in the same run; the commands below "
        "reproduce each table on its own.",
        "",
    ]
    if headline is not None:
        parts += ["## Headline: what Tollgate saves on the demo workload", "", headline.output, ""]
    if NOTES.exists():
        parts += [NOTES.read_text().strip(), ""]
    parts += ["## Machine", "", "```", *machine(), "```", ""]
    if SOAK_REPORT.exists():
        parts += [
            "The full 10-minute soak (`make soak`) is reported in [soak.md](soak.md); the soak "
            f"below is the {BENCH_SOAK_MINUTES}-minute one `make bench` runs.",
            "",
        ]
    parts += ["## Contents", ""]
    parts += [f"- {o.benchmark.title} (`{o.command}`, {o.seconds:.0f} s)" for o in outcomes]
    parts.append("")
    for outcome in outcomes:
        shown_above = outcome is headline and not outcome.failed
        parts += [
            f"## {outcome.benchmark.title}",
            "",
            f"Command: `{outcome.command}` ({outcome.seconds:.0f} s)",
            "",
            "The table is the headline at the top of this page." if shown_above else outcome.output,
            "",
        ]
    return "\n".join(parts)


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    parser = argparse.ArgumentParser(prog="python -m bench", description=__doc__)
    parser.add_argument("--quick", action="store_true", help="smaller sizes where offered")
    parser.add_argument(
        "--only", action="append", metavar="MODULE", help="run only these (repeatable)"
    )
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    selected = [
        b
        for b in BENCHMARKS
        if (ROOT / "bench" / f"{b.module}.py").exists() and (not args.only or b.module in args.only)
    ]
    outcomes = [
        run_one(benchmark, args.quick, f"{index}/{len(selected)}")
        for index, benchmark in enumerate(selected, start=1)
    ]
    args.output.write_text(document(outcomes, args.quick, argv))
    print(f"wrote {args.output}", file=sys.stderr)
    failed = [o.benchmark.module for o in outcomes if o.failed]
    if failed:
        print(f"failed: {', '.join(failed)}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
