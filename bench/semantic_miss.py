"""CPU of one semantic-cache miss (a lookup, then the store of Claude's answer), in process.

    uv run python -m bench.semantic_miss [--runs 6] [--baseline ../other-checkout]

The semantic cache as the service builds it (`service.build_cache`: static retrieval, the
in-process store, the near-miss guard, the shipped model), without gRPC: `--fill` misses, then
`--misses` more, 16 at a time, whose CPU (every thread of the process) is divided by their
number. The questions are the benchmarks' unique prompts (`bench.overhead.unique_text`): one
template with a different number, so every lookup finds ten near-identical candidates and the
guard refuses each, the costliest miss there is. Each answer is `--answer-chars` long (2,000 by
default: a lead analysis or a call script; a cached answer may be up to 256 KiB). Each run is a
fresh process. With `--baseline`, runs of the other checkout's code (its .venv) alternate with
this checkout's, so both sides see the same moments of the machine; the table gives each side's
mean and range. The baseline's semantic cache must have `service.build_cache`.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import statistics
import subprocess
import tempfile
import time
from pathlib import Path

from bench.checkouts import checkout_name, checkout_python

ROOT = Path(__file__).resolve().parent.parent
CONCURRENT = 16


async def _cpu_per_miss(fill: int, misses: int, answer_chars: int) -> float:
    # Imported here: the parent process only starts runs, with either checkout's code.
    from bench.overhead import unique_text
    from tollgate.semantic_cache import service
    from tollgate.semantic_cache.settings import Settings
    from tollgate.v1 import common_pb2

    context = common_pb2.RequestContext(tenant_id="acme", request_id="bench")
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=folder)
        # Without the precision monitor: a miss never asks it.
        core = await service.build_cache(settings, await service.load_embedder(settings))
        cache, embedder, store = core.cache, core.embedder, core.store
        await store.open()
        await embedder.start()

        async def miss() -> None:
            text = unique_text()
            request = common_pb2.ClaudeRequest(model="claude-sonnet-5-5", max_tokens=200)
            request.system.add().text.text = "You are a real-estate assistant."
            request.messages.add(role=common_pb2.ROLE_USER).content.add().text.text = text
            found = await cache.lookup(context, request, "v1")
            if found.hit:
                raise AssertionError(f"a unique question was answered from the cache: {text}")
            answer = common_pb2.ClaudeResponse(stop_reason=common_pb2.STOP_REASON_END_TURN)
            opening = f"About {text[:40]}: a bright two-bedroom home. "
            answer.content.add().text.text = (opening * (answer_chars // len(opening) + 1))[
                :answer_chars
            ]
            answer.usage.output_tokens = 20
            await cache.store(context, request, "v1", answer, 0, ())

        try:
            for _ in range(fill // CONCURRENT):
                await asyncio.gather(*(miss() for _ in range(CONCURRENT)))
            started = time.process_time()
            for _ in range(misses // CONCURRENT):
                await asyncio.gather(*(miss() for _ in range(CONCURRENT)))
            spent = time.process_time() - started
        finally:
            await embedder.stop()
            await store.close()
    return 1000 * spent / (misses // CONCURRENT * CONCURRENT)


def _run(python: str, fill: int, misses: int, answer_chars: int) -> float:
    """One run in a fresh process of `python` (a checkout's .venv)."""
    # From this checkout's folder, so either checkout's python runs this checkout's harness.
    command = [python, "-m", "bench.semantic_miss", "--worker", "--fill", str(fill)]
    command += ["--misses", str(misses)]
    command += ["--answer-chars", str(answer_chars)]
    done = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=True)
    return float(json.loads(done.stdout.splitlines()[-1])["cpu_ms"])


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--runs", type=int, default=6, help="runs per side")
    parser.add_argument("--fill", type=int, default=512, help="misses before measuring")
    parser.add_argument("--misses", type=int, default=1600, help="misses measured per run")
    parser.add_argument("--answer-chars", type=int, default=2000, help="length of each answer")
    parser.add_argument("--baseline", type=Path, help="another checkout (with .venv)")
    parser.add_argument("--worker", action="store_true", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.worker:
        print(
            json.dumps(
                {"cpu_ms": asyncio.run(_cpu_per_miss(args.fill, args.misses, args.answer_chars))}
            )
        )
        return
    sides = [(checkout_name(ROOT, "this checkout"), checkout_python(ROOT))]
    if args.baseline:
        baseline = args.baseline.resolve()
        sides.insert(0, (checkout_name(baseline), checkout_python(baseline)))
    figures: dict[str, list[float]] = {name: [] for name, _ in sides}
    for _ in range(args.runs):
        for name, python in sides:
            figures[name].append(_run(python, args.fill, args.misses, args.answer_chars))
    print(
        f"{args.fill} misses stored first, then {args.misses} measured, {CONCURRENT} at a time, "
        f"answers of {args.answer_chars:,} characters; "
        f"{args.runs} runs"
        + (" per side, alternating." if args.baseline else ".")
        + "\n\n| code | CPU ms per miss (lookup + store), mean | median | range |\n"
        "|---|---:|---:|---:|"
    )
    for name, values in figures.items():
        print(
            f"| {name} | {statistics.mean(values):.3f} | {statistics.median(values):.3f} | "
            f"{min(values):.3f} to {max(values):.3f} |"
        )


if __name__ == "__main__":
    main()
