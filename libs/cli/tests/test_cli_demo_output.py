"""The demo says what the semantic cache decided on each paraphrased FAQ: served, or why not."""

from __future__ import annotations

from tollgate.cli.demo import PARAPHRASED, ScenarioStats, render_semantic_decisions
from tollgate.cli.demo_workload import PARAPHRASES
from tollgate.v1 import common_pb2


def _account(semantic_detail: str | None, served: bool = False) -> common_pb2.Account:
    account = common_pb2.Account()
    account.optimizations.add(optimization="exact_cache", detail="miss")
    if semantic_detail is not None:
        account.optimizations.add(
            optimization="semantic_cache", detail=semantic_detail, applied=served
        )
    return account


def test_each_paraphrase_is_shown_with_the_semantic_caches_decision() -> None:
    decisions = [
        ("similar to 'What documents do I need?' (0.912)", True),
        ("miss: unexplained difference: bring vs need", False),
        (None, False),
        ("miss", False),
    ]
    # As many decisions as paraphrases, the last one repeated.
    decisions += decisions[-1:] * (len(PARAPHRASES) - len(decisions))
    stats = {PARAPHRASED: ScenarioStats(), "chat (multi-turn)": ScenarioStats()}
    stats["chat (multi-turn)"].add(_account("not eligible: multi-turn"), 1.0)
    for detail, served in decisions:
        stats[PARAPHRASED].add(_account(detail, served), 1.0)
    lines = render_semantic_decisions(stats).splitlines()
    assert lines[0].startswith("The semantic cache on the paraphrased FAQs")
    shown = list(zip(lines[2::2], lines[3::2], strict=True))
    assert [question.strip() for question, _ in shown] == [repr(q) for q, _ in PARAPHRASES]
    assert [decision.strip() for _, decision in shown] == [
        "served: similar to 'What documents do I need?' (0.912)",
        "miss: unexplained difference: bring vs need",
        "not asked",
        *["miss"] * (len(PARAPHRASES) - 3),
    ]
