"""Seeded generator of SYNTHETIC leads as raw events, the data the shipped model is fitted on.

No real lead is in it. Each lead has a hidden intent; its answers, the timing of its replies,
opens and visits, and its outcome all depend on that intent. Every row is a snapshot of one lead
at a moment after its creation (a quarter of them within a day of it, so new leads are well
represented), with the events up to that moment and whether the lead converted later.
`python -m tollgate.lead_scoring synthesize --out leads.csv --rows 4000 --seed 7`.
"""

from __future__ import annotations

import csv
import math
import random
from datetime import UTC, datetime, timedelta
from pathlib import Path

from tollgate.lead_scoring.training_data import CSV_COLUMNS, OUTCOME_COLUMN

_POOLS: dict[str, tuple[list[str], list[str]]] = {
    # (specific answers, answers that say nothing)
    "budget": (["$450k", "around 600,000", "up to $1.2M", "350k-400k", "$820,000"], ["not sure"]),
    "timeline": (["asap", "within 60 days", "6 months", "next year", "2 weeks"], ["don't know"]),
    "location": (["Austin, TX", "North Denver", "Brooklyn", "near Lake Merritt"], ["anywhere"]),
    "pre_approval": (["yes, pre-approved", "cash buyer", "not yet", "no"], ["not sure"]),
    "motivation": (
        ["relocating for a new job", "growing family needs space", "investment", "downsizing"],
        ["just looking"],
    ),
    "property_type": (["single-family house", "condo", "townhouse", "duplex"], ["whatever"]),
    "contact_preference": (["text", "email", "phone calls in the evening"], ["any"]),
}
_READY = ("yes, pre-approved", "cash buyer")
_SOURCES = ["website", "zillow", "referral", "open_house", "facebook", "past_client"]
_START = datetime(2025, 1, 1, tzinfo=UTC)


def _answer(rng: random.Random, question: str, intent: float) -> str:
    # Keen leads answer more questions, and more precisely.
    if rng.random() > 0.35 + 0.5 * intent:
        return ""
    specific, vague = _POOLS[question]
    return rng.choice(specific if rng.random() < 0.4 + 0.5 * intent else vague)


def _stamp(moment: datetime) -> str:
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _events(
    rng: random.Random, created: datetime, age_days: float, intent: float, answered: int
) -> tuple[list[str], float | None]:
    """kind@time tokens up to the snapshot, and days since the lead's last touch."""
    tokens: list[str] = []
    last_touch: float | None = None
    # Answers given in a first conversation are replies at creation.
    for _ in range(answered if rng.random() < 0.6 else 0):
        moment = created + timedelta(days=rng.uniform(0.0, min(age_days, 0.007)))
        tokens.append(f"reply@{_stamp(moment)}")
        last_touch = age_days
    # Keen leads keep engaging for longer; the rest fade.
    active_days = min(age_days, rng.expovariate(1.0 / (5.0 + 60.0 * intent)))
    for kind, rate in (("reply", 0.15), ("open", 0.25), ("visit", 0.1), ("message", 0.2)):
        per_day = rate * (0.3 + 2.0 * intent) if kind != "message" else rate
        window = age_days if kind == "message" else active_days
        count = _poisson(rng, per_day * window)
        for _ in range(count):
            offset = rng.uniform(0.0, window)
            tokens.append(f"{kind}@{_stamp(created + timedelta(days=offset))}")
            if kind != "message":
                since = age_days - offset
                last_touch = since if last_touch is None else min(last_touch, since)
    return tokens, last_touch


def _poisson(rng: random.Random, mean: float) -> int:
    if mean > 30:
        return max(0, round(rng.gauss(mean, math.sqrt(mean))))
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
    for index in range(rows):
        intent = rng.betavariate(2.0, 3.0)
        created = _START + timedelta(days=rng.uniform(0, 540), minutes=rng.uniform(0, 1440))
        age_days = rng.uniform(0.005, 1.0) if rng.random() < 0.25 else rng.uniform(1.0, 120.0)
        snapshot = created + timedelta(days=age_days)
        row = {"lead_id": f"synthetic-{index}", "source": rng.choice(_SOURCES)}
        for question in _POOLS:
            row[question] = _answer(rng, question, intent)
        answered = sum(1 for q in _POOLS if row[q])
        tokens, last_touch = _events(rng, created, age_days, intent, answered)
        row.update(
            created_at=_stamp(created), snapshot_at=_stamp(snapshot), events=";".join(tokens)
        )
        ready = row["pre_approval"] in _READY
        referral = row["source"] in ("referral", "past_client")
        quiet = last_touch if last_touch is not None else min(age_days, 90.0)
        z = -3.0 + 4.5 * intent + 0.9 * ready + 0.6 * referral - 0.03 * min(quiet, 90.0)
        row[OUTCOME_COLUMN] = "1" if rng.random() < 1.0 / (1.0 + math.exp(-z)) else "0"
        result.append(row)
    return result


def write_synthetic_csv(path: Path, rows: int = 4000, seed: int = 7) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.DictWriter(handle, fieldnames=["lead_id", *CSV_COLUMNS, OUTCOME_COLUMN])
        writer.writeheader()
        writer.writerows(synthetic_rows(rows, seed))
