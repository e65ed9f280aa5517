"""Seeded generator of SYNTHETIC leads with outcomes, the data the shipped model is fitted on.

No real lead is in it. Answers are drawn from small pools of realistic phrasings, engagement
counts from Poisson draws that rise with the lead's hidden intent, and the outcome from a
logistic function of that intent, so a fitted model has something real to find.
`python -m tollgate.lead_scoring synthesize --out leads.csv --rows 4000 --seed 7`.
"""

from __future__ import annotations

import csv
import math
import random
from pathlib import Path

from tollgate.lead_scoring.features import CSV_COLUMNS, OUTCOME_COLUMN

_POOLS: dict[str, tuple[list[str], list[str]]] = {
    # (specific answers, vague answers)
    "budget": (["$450k", "around 600,000", "up to $1.2M", "350k-400k", "$820,000"], ["not sure"]),
    "timeline": (["asap", "within 3 months", "6 months", "next year", "2 weeks"], ["flexible"]),
    "location": (["Austin, TX", "North Denver", "Brooklyn", "near Lake Merritt"], ["anywhere"]),
    "pre_approval": (["yes, pre-approved", "cash buyer", "not yet", "no"], ["maybe"]),
    "motivation": (
        ["relocating for a new job", "growing family needs space", "downsizing after retirement"],
        ["investment"],
    ),
    "property_type": (["single-family house", "condo", "townhouse", "duplex"], ["whatever"]),
    "contact_preference": (["text", "email", "phone calls in the evening"], ["any"]),
}
_SOURCES = ["website", "zillow", "referral", "open_house", "facebook", "past_client"]


def _answer(rng: random.Random, question: str, intent: float) -> str:
    # Keen leads answer more questions, and more precisely.
    if rng.random() > 0.35 + 0.5 * intent:
        return ""
    specific, vague = _POOLS[question]
    return rng.choice(specific if rng.random() < 0.4 + 0.5 * intent else vague)


def _poisson(rng: random.Random, mean: float) -> int:
    # Knuth's method: fine for the small means used here.
    limit, k, p = math.exp(-mean), 0, 1.0
    while True:
        p *= rng.random()
        if p <= limit:
            return k
        k += 1


def synthetic_rows(rows: int, seed: int) -> list[dict[str, str]]:
    rng = random.Random(seed)
    result = []
    for _ in range(rows):
        intent = rng.betavariate(2.0, 3.0)
        row = {"source": rng.choice(_SOURCES)}
        for question in _POOLS:
            row[question] = _answer(rng, question, intent)
        replies = _poisson(rng, 0.3 + 4.0 * intent)
        visits = _poisson(rng, 0.2 + 3.0 * intent)
        opens = _poisson(rng, 1.0 + 5.0 * intent)
        messages = _poisson(rng, 3.0)
        engaged = replies + visits + opens > 0
        quiet = rng.expovariate(1.0 / (3.0 + 40.0 * (1.0 - intent))) if engaged else None
        row.update(
            messages_30d=str(messages),
            replies_30d=str(replies),
            opens_30d=str(opens),
            visits_30d=str(visits),
            days_since_last_engagement="" if quiet is None else f"{quiet:.1f}",
        )
        approved = row["pre_approval"] in ("yes, pre-approved", "cash buyer")
        referral = row["source"] in ("referral", "past_client")
        z = -3.2 + 4.5 * intent + 0.9 * approved + 0.6 * referral - 0.02 * (quiet or 90.0)
        row[OUTCOME_COLUMN] = "1" if rng.random() < 1.0 / (1.0 + math.exp(-z)) else "0"
        result.append(row)
    return result


def write_synthetic_csv(path: Path, rows: int = 4000, seed: int = 7) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=[*CSV_COLUMNS, OUTCOME_COLUMN])
        writer.writeheader()
        writer.writerows(synthetic_rows(rows, seed))
