"""Evaluation of the semantic cache's decision (similarity threshold + near-miss guard) on the
labelled corpus of bench/data/semantic_corpus (built by `bench.semantic_corpus_build`).

    uv run python -m bench.semantic_eval                       # frozen test split, defaults
    uv run python -m bench.semantic_eval --split train         # the split used for tuning
    uv run python -m bench.semantic_eval --compare-model DIR   # the shipped model next to DIR's

Each pair is a cached question and a new one, labelled "should hit" (a paraphrase) or "must not
hit" (a near-miss). Both are embedded with the model; the pair is served when the similarity
reaches the threshold and (guard on) the guard explains every difference — the decision
SemanticCache.lookup makes for a candidate. The split's SHA-256 is checked against the frozen
SHA256SUMS first: figures are never reported for an edited test split.

Rates are ratios within this run: recall = served paraphrases / paraphrases; false-hit rate =
served near-misses / near-misses; precision = correct hits / hits.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import time
from collections import defaultdict
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from bench.progress import phase
from tollgate.semantic_cache.embedding.model import OnnxEmbedder
from tollgate.semantic_cache.guard import NearMissGuard, model_vocabulary
from tollgate.semantic_cache.settings import DEFAULT_MODEL_DIR, Settings

CORPUS_DIR = Path(__file__).resolve().parent / "data" / "semantic_corpus"
DEFAULT_THRESHOLDS = (0.50, 0.55, 0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90)
_BATCH = 32


@dataclass(frozen=True)
class Pair:
    cached: str
    asked: str
    should_hit: bool
    kind: str
    source: str


@dataclass(frozen=True)
class Scored:
    pair: Pair
    similarity: float
    # The guard's reason for refusing, or "" when it explains every difference.
    rejection: str


@dataclass(frozen=True)
class Rates:
    precision: float
    recall: float
    false_hit_rate: float
    hits: int
    false_hits: int
    paraphrases: int
    near_misses: int


def load_split(split: str, corpus_dir: Path = CORPUS_DIR) -> list[Pair]:
    """The split's pairs, after checking the file against the frozen checksum."""
    path = corpus_dir / f"{split}.jsonl"
    frozen: dict[str, str] = {}
    for line in (corpus_dir / "SHA256SUMS").read_text().splitlines():
        digest, name = line.split()
        frozen[name] = digest
    if frozen.get(path.name) != hashlib.sha256(path.read_bytes()).hexdigest():
        raise SystemExit(f"{path.name} does not match its frozen SHA-256 in SHA256SUMS")
    pairs = []
    for line in path.read_text().splitlines():
        raw = json.loads(line)
        pairs.append(
            Pair(raw["cached"], raw["asked"], raw["should_hit"], raw["kind"], raw["source"])
        )
    return pairs


def embed_all(texts: list[str], embedder: OnnxEmbedder) -> dict[str, np.ndarray]:
    vectors = {}
    for start in range(0, len(texts), _BATCH):
        batch = texts[start : start + _BATCH]
        for text, vector in zip(batch, embedder.embed(batch), strict=True):
            vectors[text] = vector
    return vectors


def score(pairs: list[Pair], embedder: OnnxEmbedder, guard: NearMissGuard) -> list[Scored]:
    vectors = embed_all(sorted({t for p in pairs for t in (p.cached, p.asked)}), embedder)
    out = []
    for pair in pairs:
        similarity = float(np.dot(vectors[pair.cached], vectors[pair.asked]))
        rejection = guard.check(pair.asked, pair.cached)
        out.append(Scored(pair, similarity, rejection.reason if rejection else ""))
    return out


def served(item: Scored, threshold: float, with_guard: bool) -> bool:
    return item.similarity >= threshold and not (with_guard and item.rejection)


def rates(items: list[Scored], threshold: float, with_guard: bool) -> Rates:
    positives = [i for i in items if i.pair.should_hit]
    negatives = [i for i in items if not i.pair.should_hit]
    true_hits = sum(served(i, threshold, with_guard) for i in positives)
    false_hits = sum(served(i, threshold, with_guard) for i in negatives)
    hits = true_hits + false_hits
    return Rates(
        precision=true_hits / hits if hits else 1.0,
        recall=true_hits / len(positives) if positives else 0.0,
        false_hit_rate=false_hits / len(negatives) if negatives else 0.0,
        hits=hits,
        false_hits=false_hits,
        paraphrases=len(positives),
        near_misses=len(negatives),
    )


def print_sweep(items: list[Scored], thresholds: list[float], default: float) -> None:
    print("| threshold | guard | recall | false-hit rate | precision | hits | false hits |")
    print("|---:|:---|---:|---:|---:|---:|---:|")
    for threshold in thresholds:
        for with_guard in (False, True):
            r = rates(items, threshold, with_guard)
            mark = " (default)" if with_guard and abs(threshold - default) < 1e-9 else ""
            print(
                f"| {threshold:.2f}{mark} | {'on' if with_guard else 'off'} | {r.recall:.1%} | "
                f"{r.false_hit_rate:.1%} | {r.precision:.1%} | {r.hits} | {r.false_hits} |"
            )


def print_kinds(items: list[Scored], threshold: float) -> None:
    """Served pairs per kind, guard off and on, at one threshold."""
    groups: dict[str, list[Scored]] = defaultdict(list)
    for item in items:
        groups[item.pair.kind].append(item)
    print("| kind | label | pairs | served, guard off | served, guard on | mean similarity |")
    print("|:---|:---|---:|---:|---:|---:|")
    order = sorted(groups, key=lambda k: (not groups[k][0].pair.should_hit, k))
    for kind in order:
        members = groups[kind]
        label = "should hit" if members[0].pair.should_hit else "must not hit"
        off = sum(served(i, threshold, False) for i in members)
        on = sum(served(i, threshold, True) for i in members)
        mean = sum(i.similarity for i in members) / len(members)
        print(
            f"| {kind} | {label} | {len(members)} | {off} ({off / len(members):.1%}) | "
            f"{on} ({on / len(members):.1%}) | {mean:.3f} |"
        )
    for with_guard in (False, True):
        r = rates(items, threshold, with_guard)
        print(
            f"| **all, guard {'on' if with_guard else 'off'}** | | {len(items)} | "
            f"recall {r.recall:.1%} ({r.paraphrases} paraphrases) | "
            f"false hits {r.false_hits} of {r.near_misses} ({r.false_hit_rate:.1%}) | "
            f"precision {r.precision:.1%} |"
        )


def print_errors(items: list[Scored], threshold: float, limit: int) -> None:
    false_hits = [i for i in items if not i.pair.should_hit and served(i, threshold, True)]
    refused = [i for i in items if i.pair.should_hit and i.similarity >= threshold and i.rejection]
    print(f"\nFalse hits at the default settings ({len(false_hits)}):")
    for item in false_hits[:limit]:
        print(f"  [{item.pair.kind}] {item.pair.cached!r} / {item.pair.asked!r}")
    print(f"Paraphrases above the threshold the guard refused ({len(refused)}):")
    for item in refused[:limit]:
        print(f"  {item.pair.asked!r}: {item.rejection}")


def embedding_cpu_ms(embedder: OnnxEmbedder, texts: list[str], rounds: int) -> float:
    """CPU milliseconds per question, in batches of 32, best of `rounds` passes. CPU time of
    this thread (onnxruntime computes on it with one intra-op thread), not wall time: on a
    shared machine wall time measures the neighbours as much as the model."""
    best = float("inf")
    for _ in range(rounds):
        started = time.thread_time()
        embed_all(texts, embedder)
        best = min(best, time.thread_time() - started)
    return best * 1000 / len(texts)


def compare_models(
    pairs: list[Pair], other: Path, threshold: float, guard: NearMissGuard, rounds: int
) -> None:
    models = [("shipped", DEFAULT_MODEL_DIR), (other.name, other)]
    texts = sorted({t for p in pairs for t in (p.cached, p.asked)})
    print(f"\nModels side by side ({len(texts)} distinct questions, threshold {threshold:.2f}):")
    print(
        f"| model | file MB | CPU ms/question | CPU x {other.name} | recall (guard on) | "
        "false-hit rate (guard on) | false-hit rate (guard off) |"
    )
    print("|:---|---:|---:|---:|---:|---:|---:|")
    rows = []
    for name, path in models:
        embedder = OnnxEmbedder(path, threads=1)
        cpu_ms = embedding_cpu_ms(embedder, texts, rounds)
        items = score(pairs, embedder, guard)
        size = (path / "model.onnx").stat().st_size / 1e6
        rows.append(
            (name, size, cpu_ms, rates(items, threshold, True), rates(items, threshold, False))
        )
    other_cpu_ms = rows[-1][2]
    for name, size, cpu_ms, on, off in rows:
        print(
            f"| {name} | {size:.0f} | {cpu_ms:.2f} | {cpu_ms / other_cpu_ms:.2f} | "
            f"{on.recall:.1%} | {on.false_hit_rate:.1%} | {off.false_hit_rate:.1%} |"
        )


def main() -> None:
    parser = argparse.ArgumentParser(description="Semantic cache precision and recall")
    parser.add_argument("--split", choices=("test", "train"), default="test")
    parser.add_argument("--thresholds", default=",".join(f"{t:.2f}" for t in DEFAULT_THRESHOLDS))
    parser.add_argument("--errors", type=int, default=0, help="print this many errors of each")
    parser.add_argument("--compare-model", type=Path, help="a second model folder to compare")
    parser.add_argument("--rounds", type=int, default=3, help="timing passes per model")
    args = parser.parse_args()
    settings = Settings()
    default = settings.default_threshold
    model_dir = settings.resolved_model_path()
    phase("loading the labelled pairs and the embedding model ...")
    pairs = load_split(args.split)
    guard = NearMissGuard(model_vocabulary(model_dir))
    phase(f"embedding and guarding {len(pairs)} pairs ...")
    items = score(pairs, OnnxEmbedder(model_dir, threads=1), guard)
    print(f"Split {args.split}: {len(pairs)} pairs, model {model_dir.name}\n")
    print_kinds(items, default)
    print()
    print_sweep(items, [float(t) for t in args.thresholds.split(",")], default)
    if args.errors:
        print_errors(items, default, args.errors)
    if args.compare_model:
        compare_models(pairs, args.compare_model, default, guard, args.rounds)


if __name__ == "__main__":
    main()
