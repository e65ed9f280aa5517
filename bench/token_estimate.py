"""Calibration and error of the optimizer's token estimate against the reference counter.

    uv run python -m bench.token_estimate          # error and speed of the shipped coefficients
    uv run python -m bench.token_estimate --fit    # refit them (prints constants to paste)

The reference is the counter the project's Anthropic API emulator bills with
(`tollgate.emulator.tokens`). The corpus is every text of bench/data/crm_conversations.jsonl
(turns, tool results, tool-call arguments as compact JSON) plus English prose: the paragraphs of
the package descriptions installed in this environment (pinned by uv.lock). Even-numbered
conversations and paragraphs are fitted, odd-numbered ones held out; errors are reported on the
held-out half, per text and per whole request (the held-out conversations), and the speed of
the estimate is a ratio against the reference counter in the same run.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

from bench.crm_conversations import load
from tollgate.common import token_estimate
from tollgate.common.anthropic_format import request_from_params
from tollgate.common.token_estimate import estimate_request, text_features
from tollgate.emulator.tokens import count_request_tokens, count_text_tokens

FEATURES = ("CHARS", "SPACES", "NEWLINES", "PUNCTUATION", "DIGITS", "EXTRA_UTF8_BYTES", "PER_TEXT")


def conversation_texts(conversations: list[dict[str, Any]]) -> Iterator[str]:
    for conversation in conversations:
        for block in conversation["request"]["system"]:
            yield block["text"]
        for message in conversation["request"]["messages"]:
            content = message["content"]
            if isinstance(content, str):
                yield content
                continue
            for block in content:
                if block["type"] == "text":
                    yield block["text"]
                elif block["type"] == "tool_use":
                    yield json.dumps(block["input"], sort_keys=True, separators=(",", ":"))
                elif block["type"] == "tool_result":
                    yield from (inner["text"] for inner in block["content"])


def prose_texts() -> Iterator[str]:
    site = next(Path(p) for p in sys.path if p.endswith("site-packages"))
    for metadata in sorted(site.glob("*.dist-info/METADATA")):
        body = metadata.read_text(errors="replace").split("\n\n", 1)[-1]
        for paragraph in body.split("\n\n"):
            if len(paragraph.strip()) >= 40:
                yield paragraph


def row(text: str) -> list[float]:
    return [*map(float, text_features(text)), 1.0]


def solve(matrix: list[list[float]], vector: list[float]) -> list[float]:
    """Gaussian elimination with partial pivoting (the normal equations are small)."""
    n = len(vector)
    a = [[*r, v] for r, v in zip(matrix, vector, strict=True)]
    for col in range(n):
        pivot = max(range(col, n), key=lambda r: abs(a[r][col]))
        a[col], a[pivot] = a[pivot], a[col]
        if abs(a[col][col]) < 1e-12:
            continue
        for r in range(n):
            if r != col:
                factor = a[r][col] / a[col][col]
                a[r] = [x - factor * y for x, y in zip(a[r], a[col], strict=True)]
    return [a[i][n] / a[i][i] if abs(a[i][i]) > 1e-12 else 0.0 for i in range(n)]


def fit(texts: list[str]) -> list[float]:
    rows = [row(t) for t in texts]
    targets = [float(count_text_tokens(t)) for t in texts]
    k = len(rows[0])
    xtx = [[sum(r[i] * r[j] for r in rows) for j in range(k)] for i in range(k)]
    xty = [sum(r[i] * y for r, y in zip(rows, targets, strict=True)) for i in range(k)]
    return solve(xtx, xty)


def relative_errors(texts: list[str], estimate: Callable[[str], int]) -> list[float]:
    return [(estimate(t) - count_text_tokens(t)) / max(1, count_text_tokens(t)) for t in texts]


def describe(errors: list[float]) -> str:
    absolute = sorted(abs(e) for e in errors)
    p95 = absolute[int(0.95 * (len(absolute) - 1))]
    return (
        f"{100 * statistics.mean(absolute):.1f}% | {100 * statistics.median(absolute):.1f}% | "
        f"{100 * p95:.1f}% | {100 * absolute[-1]:.1f}% | {100 * statistics.mean(errors):+.2f}%"
    )


def per_second(function: Callable[[], object], repeat: int = 5) -> float:
    best = float("inf")
    for _ in range(repeat):
        start = time.perf_counter()
        function()
        best = min(best, time.perf_counter() - start)
    return best


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fit", action="store_true", help="refit and print the coefficients")
    args = parser.parse_args()
    conversations = load()
    fitting_conversations, held_conversations = conversations[::2], conversations[1::2]
    prose = list(prose_texts())
    fitting = list(conversation_texts(fitting_conversations)) + prose[::2]
    held_crm, held_prose = list(conversation_texts(held_conversations)), prose[1::2]
    if args.fit:
        for name, value in zip(FEATURES, fit(fitting), strict=True):
            print(f"{name} = {value:.3f}")
        return

    print(
        f"Corpus: {len(fitting) + len(held_crm) + len(held_prose)} texts ({len(prose)} prose "
        "paragraphs); errors on the held-out half (odd-numbered conversations, odd paragraphs), "
        "estimate minus reference over reference\n"
    )
    print("| texts | mean abs error | median | p95 | max | bias |")
    print("|---|---|---|---|---|---|")
    estimate_text = token_estimate.estimate_text
    crm_errors = describe(relative_errors(held_crm, estimate_text))
    prose_errors = describe(relative_errors(held_prose, estimate_text))
    print(f"| CRM turns, tool results, tool arguments | {crm_errors} |")
    print(f"| English prose | {prose_errors} |")
    requests = [request_from_params(c["request"]) for c in held_conversations]
    bodies = [c["request"] for c in held_conversations]
    errors = [
        (estimate_request(r) - count_request_tokens(b)) / count_request_tokens(b)
        for r, b in zip(requests, bodies, strict=True)
    ]
    print(f"| whole requests ({len(bodies)} held-out conversations) | {describe(errors)} |")

    reference = per_second(lambda: [count_request_tokens(b) for b in bodies])
    estimate = per_second(lambda: [estimate_request(r) for r in requests])
    total = sum(count_request_tokens(b) for b in bodies)
    print("\n| counter | time for the held-out requests | tokens per ms | speed vs reference |")
    print("|---|---|---|---|")
    for name, seconds in (
        ("reference (`tollgate.emulator.tokens`, on JSON)", reference),
        ("estimate (`token_estimate`, on protos)", estimate),
    ):
        print(
            f"| {name} | {seconds * 1000:.2f} ms | {total / (seconds * 1000):,.0f} | "
            f"{reference / seconds:.1f}x |"
        )


if __name__ == "__main__":
    main()
