"""Evaluation of the semantic cache's decision: similarity threshold and near-miss guard.

    uv run python -m bench.semantic_eval [--thresholds 0.6,0.7,...]

Reads the labelled pairs of bench/data/semantic_eval_pairs.jsonl (built from templates by
`bench.semantic_eval_build`; see docs/semantic_cache.md for the rules): each pair is a cached
question and a new question, labelled "should hit" (a paraphrase) or "must not hit" (a near-miss:
other price, bedrooms, city, date, house number, street, lead, negation, comparison, or another
question about the same thing). Both are embedded with the service's model; a pair is served from
the cache when the similarity reaches the threshold and, with the guard, the guard lets it pass —
the same decision SemanticCache.lookup makes for its best candidate.

Figures are ratios within this run: precision = correct hits / hits, recall = correct hits /
pairs that should hit, false-hit rate = hits on must-not-hit pairs / must-not-hit pairs.
"""

from __future__ import annotations

import argparse
from collections import defaultdict
from dataclasses import dataclass

import numpy as np

from bench.progress import phase
from bench.semantic_eval_build import Pair, load_pairs
from tollgate.semantic_cache.embedding.model import OnnxEmbedder
from tollgate.semantic_cache.guard import NearMissGuard
from tollgate.semantic_cache.settings import Settings

DEFAULT_THRESHOLDS = (0.60, 0.65, 0.70, 0.75, 0.80, 0.85, 0.90, 0.95)


@dataclass(frozen=True)
class Scored:
    pair: Pair
    similarity: float
    # The guard's reason for refusing, or "" when it lets the pair through.
    rejection: str


@dataclass(frozen=True)
class Metrics:
    precision: float
    recall: float
    false_hit_rate: float
    hits: int
    false_hits: int


def score(pairs: list[Pair], embedder: OnnxEmbedder, guard: NearMissGuard) -> list[Scored]:
    texts = sorted({t for p in pairs for t in (p.cached, p.asked)})
    vectors = {}
    for start in range(0, len(texts), 32):
        batch = texts[start : start + 32]
        for text, vector in zip(batch, embedder.embed(batch), strict=True):
            vectors[text] = vector
    out = []
    for pair in pairs:
        similarity = float(np.dot(vectors[pair.cached], vectors[pair.asked]))
        rejection = guard.check(pair.asked, pair.cached)
        out.append(Scored(pair, similarity, rejection.reason if rejection else ""))
    return out


def served(item: Scored, threshold: float, with_guard: bool) -> bool:
    return item.similarity >= threshold and not (with_guard and item.rejection)


def metrics(items: list[Scored], threshold: float, with_guard: bool) -> Metrics:
    positives = [i for i in items if i.pair.should_hit]
    negatives = [i for i in items if not i.pair.should_hit]
    true_hits = sum(served(i, threshold, with_guard) for i in positives)
    false_hits = sum(served(i, threshold, with_guard) for i in negatives)
    hits = true_hits + false_hits
    return Metrics(
        precision=true_hits / hits if hits else 1.0,
        recall=true_hits / len(positives) if positives else 0.0,
        false_hit_rate=false_hits / len(negatives) if negatives else 0.0,
        hits=hits,
        false_hits=false_hits,
    )


def print_sweep(items: list[Scored], thresholds: list[float], default: float) -> None:
    print("| threshold | guard | precision | recall | false-hit rate | hits | false hits |")
    print("|---:|:---|---:|---:|---:|---:|---:|")
    for threshold in thresholds:
        for with_guard in (False, True):
            m = metrics(items, threshold, with_guard)
            mark = " (default)" if with_guard and abs(threshold - default) < 1e-9 else ""
            print(
                f"| {threshold:.2f}{mark} | {'on' if with_guard else 'off'} | "
                f"{m.precision:.1%} | {m.recall:.1%} | {m.false_hit_rate:.1%} | "
                f"{m.hits} | {m.false_hits} |"
            )


def print_categories(items: list[Scored], threshold: float) -> None:
    groups: dict[str, list[Scored]] = defaultdict(list)
    for item in items:
        groups[item.pair.category].append(item)
    print("| category | pairs | label | served, guard off | served, guard on | mean similarity |")
    print("|:---|---:|:---|---:|---:|---:|")
    for category in sorted(groups, key=lambda c: (c != "paraphrase", c)):
        members = groups[category]
        label = "should hit" if members[0].pair.should_hit else "must not hit"
        off = sum(served(i, threshold, False) for i in members)
        on = sum(served(i, threshold, True) for i in members)
        mean = sum(i.similarity for i in members) / len(members)
        print(
            f"| {category} | {len(members)} | {label} | {off} ({off / len(members):.0%}) | "
            f"{on} ({on / len(members):.0%}) | {mean:.3f} |"
        )


def print_errors(items: list[Scored], threshold: float, limit: int) -> None:
    false_hits = [i for i in items if not i.pair.should_hit and served(i, threshold, True)]
    refused = [i for i in items if i.pair.should_hit and i.similarity >= threshold and i.rejection]
    print(f"False hits at the default settings ({len(false_hits)}):")
    for item in false_hits[:limit]:
        print(
            f"- [{item.pair.category}] {item.similarity:.3f} "
            f"{item.pair.cached!r} → {item.pair.asked!r}"
        )
    print(f"\nParaphrases above the threshold refused by the guard ({len(refused)}), by reason:")
    reasons: dict[str, int] = defaultdict(int)
    for item in refused:
        reasons[item.rejection.split(":")[0]] += 1
    for reason, count in sorted(reasons.items(), key=lambda kv: -kv[1]):
        print(f"- {reason}: {count}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--thresholds", default=",".join(f"{t:.2f}" for t in DEFAULT_THRESHOLDS))
    parser.add_argument("--errors", type=int, default=10, help="false hits to list")
    args = parser.parse_args()
    settings = Settings()
    default = settings.default_threshold
    thresholds = sorted({float(t) for t in args.thresholds.split(",")} | {default})

    phase("loading the labelled pairs and the embedding model ...")
    pairs = load_pairs()
    embedder = OnnxEmbedder(
        settings.resolved_model_path(),
        max_tokens=settings.model_max_tokens,
        threads=settings.onnx_threads,
    )
    phase(f"embedding and guarding {len(pairs)} pairs ...")
    items = score(pairs, embedder, NearMissGuard())
    phase("sweeping thresholds ...")
    positives = sum(p.should_hit for p in pairs)
    print(
        f"Semantic cache evaluation: {len(pairs)} labelled pairs ({positives} should hit, "
        f"{len(pairs) - positives} must not), model {embedder.name}, default threshold "
        f"{default:.2f}\n"
    )
    print_sweep(items, thresholds, default)
    print(f"\nBy category at the default threshold {default:.2f}:\n")
    print_categories(items, default)
    print()
    print_errors(items, default, args.errors)


if __name__ == "__main__":
    main()
