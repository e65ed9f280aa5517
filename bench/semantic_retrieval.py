"""Static retrieval beside the model's own vectors, through the cache itself, on the frozen split.

    uv run python -m bench.semantic_retrieval                   # test split, 5,000 distractors
    uv run python -m bench.semantic_retrieval --split train --distractors 0

One tenant's cache is filled, once per way of retrieval (`retrieval.py`), with:
- every cached question of the labelled corpus (both splits; each answer names its question),
- the train split's near-miss questions (the closest wrong neighbours there are),
- `--distractors` template questions of bench.semantic_lookup (listings, fees, leads), so the
  search has a full tenant's worth of entries to wade through.
Then every pair of the chosen split is asked through `SemanticCache.lookup`. The split is checked
against its frozen SHA-256 first (bench.semantic_eval.load_split).

Per retrieval: recall (paraphrases answered with their own cached question's answer), false hits
(near-misses answered with the question they differ from), answers from another entry (either
label), the texts the full model embedded per lookup, and CPU per lookup (this process, the
model's thread included). The two retrievals are asked alternately, question by question, so a
busy moment of the machine weighs on both alike.
"""

from __future__ import annotations

import argparse
import asyncio
import tempfile
import time
from dataclasses import dataclass, field
from pathlib import Path

from bench.progress import phase
from bench.semantic_eval import Pair, load_split
from bench.semantic_lookup import questions, request_for
from tollgate.semantic_cache.cache import SemanticCache
from tollgate.semantic_cache.embedding.batcher import BatchingEmbedder
from tollgate.semantic_cache.embedding.model import OnnxEmbedder
from tollgate.semantic_cache.guard import NearMissGuard, model_vocabulary
from tollgate.semantic_cache.service import build_retrieval
from tollgate.semantic_cache.settings import Settings
from tollgate.semantic_cache.store.base import collection_name
from tollgate.semantic_cache.store.edge import EdgeVectorStore
from tollgate.v1 import common_pb2

RETRIEVALS = ("model", "static")
_CONTEXT = common_pb2.RequestContext(tenant_id="tenant-eval", task=common_pb2.TASK_TYPE_CHAT)


@dataclass
class Tally:
    paraphrases: int = 0
    near_misses: int = 0
    correct_hits: int = 0
    false_hits: int = 0
    other_entry: int = 0
    texts_embedded: int = 0
    cpu_seconds: list[float] = field(default_factory=list)

    @property
    def lookups(self) -> int:
        return self.paraphrases + self.near_misses


@dataclass
class Arm:
    name: str
    cache: SemanticCache
    batching: BatchingEmbedder
    store: EdgeVectorStore
    tally: Tally = field(default_factory=Tally)


def answer_naming(question: str) -> common_pb2.ClaudeResponse:
    return common_pb2.ClaudeResponse(
        id="msg_eval",
        content=[common_pb2.ContentBlock(text=common_pb2.TextBlock(text=question))],
        stop_reason=common_pb2.STOP_REASON_END_TURN,
        usage=common_pb2.Usage(input_tokens=100, output_tokens=40),
    )


def stored_questions(split: str, distractors: int) -> list[str]:
    splits = {name: load_split(name) for name in ("train", "test")}
    corpus = splits["train"] + splits["test"]
    train_near_misses = [p.asked for p in splits["train"] if not p.should_hit]
    asked = {p.asked for p in splits[split]}
    pool = {p.cached for p in corpus} | set(train_near_misses) | set(questions(distractors, 11))
    # An asked question is never stored itself: the lookup would find its own text.
    return sorted(pool - asked)


async def open_arm(
    name: str, settings: Settings, model: OnnxEmbedder, folder: str, guard: NearMissGuard
) -> Arm:
    arm_settings = settings.model_copy(update={"retrieval": name})
    batching = BatchingEmbedder(model, cache_size=0, max_wait_ms=0)
    await batching.start()
    retrieval = await build_retrieval(arm_settings, model, batching)
    store = EdgeVectorStore(
        collection_name("eval", retrieval.vector_name, retrieval.dimension),
        retrieval.dimension,
        str(Path(folder) / name),
    )
    await store.open()
    cache = SemanticCache(arm_settings, batching, store, guard=guard, retrieval=retrieval)
    return Arm(name, cache, batching, store)


async def fill(arm: Arm, pool: list[str]) -> None:
    for question in pool:
        result = await arm.cache.store(
            _CONTEXT, request_for(question), "v1", answer_naming(question), 0, []
        )
        assert result.stored, result.reason


async def ask(arm: Arm, pair: Pair) -> None:
    embedded = arm.batching.stats.texts_embedded
    started = time.process_time()
    result = await arm.cache.lookup(_CONTEXT, request_for(pair.asked), "v1")
    arm.tally.cpu_seconds.append(time.process_time() - started)
    arm.tally.texts_embedded += arm.batching.stats.texts_embedded - embedded
    served = result.response.content[0].text.text if result.hit and result.response else None
    if pair.should_hit:
        arm.tally.paraphrases += 1
        arm.tally.correct_hits += served == pair.cached
    else:
        arm.tally.near_misses += 1
        arm.tally.false_hits += served == pair.cached
    arm.tally.other_entry += served is not None and served != pair.cached


def render(arms: list[Arm], split: str, stored: int) -> str:
    lines = [
        f"Split {split} ({arms[0].tally.lookups} pairs), {stored} entries in the tenant:",
        "",
        "| retrieval | recall | false hits | answered from another entry "
        "| texts the model embedded per lookup | CPU ms per lookup (median) |",
        "|---|---:|---:|---:|---:|---:|",
    ]
    for arm in arms:
        t = arm.tally
        cpu = sorted(t.cpu_seconds)[len(t.cpu_seconds) // 2] * 1000
        lines.append(
            f"| {arm.name} | {t.correct_hits}/{t.paraphrases} "
            f"({t.correct_hits / max(1, t.paraphrases):.1%}) "
            f"| {t.false_hits}/{t.near_misses} | {t.other_entry} "
            f"| {t.texts_embedded / max(1, t.lookups):.2f} | {cpu:.2f} |"
        )
    return "\n".join(lines)


async def evaluate(split: str, distractors: int) -> str:
    settings = Settings()
    model_dir = settings.resolved_model_path()
    phase("loading the model and the labelled pairs ...")
    model = OnnxEmbedder(model_dir, threads=1)
    guard = NearMissGuard(model_vocabulary(model_dir))
    pairs = load_split(split)
    pool = stored_questions(split, distractors)
    with tempfile.TemporaryDirectory(prefix="bench-retrieval-") as folder:
        arms = [await open_arm(name, settings, model, folder, guard) for name in RETRIEVALS]
        try:
            for arm in arms:
                phase(f"storing {len(pool)} questions ({arm.name} retrieval) ...")
                await fill(arm, pool)
            phase(f"asking {len(pairs)} questions of the {split} split ...")
            for pair in pairs:
                for arm in arms:
                    await ask(arm, pair)
        finally:
            for arm in arms:
                await arm.batching.stop()
                await arm.store.close()
    return render(arms, split, len(pool))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--distractors", type=int, default=5_000)
    args = parser.parse_args()
    print(asyncio.run(evaluate(args.split, args.distractors)))


if __name__ == "__main__":
    main()
