"""Builds the labelled set of qualification answers the lead scoring answer reader is judged on.

    uv run python -m bench.lead_answers_build   # rewrites bench/data/lead_answers/*.jsonl

The procedure runs the other way round from the reader: it starts from a structured truth (a
budget range, a financing state, a move-by date, areas, property types, contact channels) drawn
with a fixed seed, and renders it as a sentence a lead or an agent would type, from phrasings
written here as whole sentences with slots. The label is the truth the sentence was rendered
from, never the reader's output. Nothing here is imported by the service, and the service's code
is not imported here.

Each item carries the `as_of` date the answer was given on; dates in labels ("by March",
"letter good through June") are resolved against it by calendar arithmetic written below.

Split: items are shuffled with the seed and cut per question, half to `dev.jsonl` (for
tuning) and half to `test.jsonl` (frozen: its SHA-256 is in `SHA256SUMS`, written before the
reader was tuned, and checked by `bench.lead_answers_eval`).
"""

from __future__ import annotations

import argparse
import calendar
import hashlib
import json
import random
import sys
from collections.abc import Callable
from datetime import date, timedelta
from pathlib import Path
from typing import Any

DATA = Path(__file__).parent / "data" / "lead_answers"
SEED = 20261206
TEST_SHARE = 0.5
AS_OF_DATES = (date(2026, 12, 6), date(2026, 3, 10), date(2027, 6, 20), date(2026, 9, 1))

Item = dict[str, Any]
Renderer = Callable[[random.Random, date], tuple[str, dict[str, Any]]]

MONTH_NAMES = list(calendar.month_name)[1:]
MONTH_SHORT = list(calendar.month_abbr)[1:]


def _end_of_month(year: int, month: int) -> date:
    return date(year, month, calendar.monthrange(year, month)[1])


def _add_months(start: date, months: int) -> date:
    month_index = start.month - 1 + months
    year, month = start.year + month_index // 12, month_index % 12 + 1
    return date(year, month, min(start.day, calendar.monthrange(year, month)[1]))


def _next_month_end(as_of: date, month: int) -> date:
    """The end of the next `month` that has not fully passed on `as_of`."""
    year = as_of.year if month >= as_of.month else as_of.year + 1
    return _end_of_month(year, month)


# ---------------------------------------------------------------- budget


def _money_k(value: int, rng: random.Random) -> str:
    style = rng.randrange(6)
    if value >= 1_000_000 and value % 100_000 == 0:
        millions = value / 1_000_000
        return rng.choice([f"${millions:g}M", f"{millions:g} million", f"${millions:g}m"])
    thousands = value // 1000
    return [
        f"${thousands}k",
        f"{thousands}K",
        f"${value:,}",
        f"{value:,}",
        f"${thousands},000",
        f"{thousands}k",
    ][style]


def _budget(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    low = rng.choice(range(250_000, 900_001, 25_000))
    high = low + rng.choice([25_000, 50_000, 75_000, 100_000, 150_000])
    big = rng.choice([1_100_000, 1_200_000, 1_500_000, 2_000_000])
    kind = rng.randrange(14)
    if kind == 0:
        return _money_k(low, rng), {"min": None, "max": low}
    if kind == 1:
        text = rng.choice(
            [
                f"up to {_money_k(low, rng)}",
                f"no more than {_money_k(low, rng)}",
                f"max {_money_k(low, rng)}",
                f"can't go over {_money_k(low, rng)}",
            ]
        )
        return text, {"min": None, "max": low}
    if kind == 2:
        return f"under {low // 1000}", {"min": None, "max": low}
    if kind == 3:
        text = rng.choice(
            [
                f"{_money_k(low, rng)} - {_money_k(high, rng)}",
                f"between {low // 1000} and {high // 1000}k",
                f"{low // 1000}-{high // 1000}k",
                f"somewhere {_money_k(low, rng)} to {_money_k(high, rng)}",
            ]
        )
        return text, {"min": low, "max": high}
    if kind == 4:
        text = rng.choice(
            [
                f"around {_money_k(low, rng)}",
                f"about {_money_k(low, rng)}",
                f"roughly {low // 1000}k",
                f"~{_money_k(low, rng)}",
            ]
        )
        return text, {"min": None, "max": low}
    if kind == 5:
        text = rng.choice(
            [f"at least {_money_k(low, rng)}", f"{_money_k(low, rng)} minimum", f"{low // 1000}k+"]
        )
        return text, {"min": low, "max": None}
    if kind == 6:
        return rng.choice([f"up to {_money_k(big, rng)}", f"{_money_k(big, rng)} tops"]), {
            "min": None,
            "max": big,
        }
    if kind == 7:
        text = rng.choice(
            [
                f"Approved up to {_money_k(low, rng)} but want to stay lower",
                f"We'd like to keep it under {_money_k(low, rng)}",
                f"Looking to spend {_money_k(low, rng)} or less",
            ]
        )
        return text, {"min": None, "max": low}
    if kind == 8:
        text = rng.choice(
            [
                f"our budget is {_money_k(low, rng)}",
                f"Budget: {_money_k(low, rng)}",
                f"thinking {low // 1000} thousand",
            ]
        )
        return text, {"min": None, "max": low}
    if kind == 9:
        text = rng.choice(
            [
                "not sure yet, depends on what we sell ours for",
                "I don't know yet",
                "prefer not to say",
                "haven't figured that out",
                "TBD",
                "no idea honestly",
                "?",
            ]
        )
        return text, {"unknown": True}
    if kind == 10:
        text = rng.choice(
            [
                f"{_money_k(low, rng)} with {rng.choice([10, 20, 5])}% down",
                f"{_money_k(low, rng)}, 3 bed minimum",
            ]
        )
        return text, {"min": None, "max": low}
    if kind == 11:
        return f"{low // 1000}k to {high // 1000}k", {"min": low, "max": high}
    if kind == 12:
        return rng.choice(
            [f"{_money_k(low, rng)} budget, a bit flexible", f"{_money_k(low, rng)} is our limit"]
        ), {"min": None, "max": low}
    return f"${high:,} max", {"min": None, "max": high}


# ---------------------------------------------------------------- financing


def _financing(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    lender = rng.choice(["Chase", "Wells Fargo", "my credit union", "Rocket", "our bank", "BofA"])
    kind = rng.randrange(12)
    if kind == 0:
        return rng.choice(
            [
                "No, paying cash",
                "cash buyer",
                "We'll pay cash, no mortgage",
                "All cash",
                "no need, cash from the sale of our last house",
                "Paying outright, no loan",
                "no loan needed - cash",
            ]
        ), {"financing": "cash"}
    if kind in (1, 2):
        return rng.choice(
            [
                f"Yes, pre-approved with {lender}",
                "yes",
                "Yep, got the approval letter last week",
                f"pre approved thru {lender}",
                "preapproved",
                f"We have a preapproval from {lender}",
                "yes we're approved",
                "Already approved for a mortgage",
            ]
        ), {"financing": "pre_approved"}
    if kind == 3:
        return rng.choice(
            [
                "pre-qualified only",
                f"prequalified online with {lender}",
                "we did a pre-qual",
                "Just prequalified, not fully approved",
                "pre qual yes, approval no",
            ]
        ), {"financing": "pre_qualified"}
    if kind in (4, 5):
        return rng.choice(
            [
                "Not yet",
                "no",
                "haven't talked to a lender",
                "nope, need a lender",
                "No - can you recommend one?",
                "not at this point",
                "working on it",
                "we still need to apply",
            ]
        ), {"financing": "none"}
    if kind == 6:
        return rng.choice(
            [
                "Yes, but it expired",
                "was approved last spring but it lapsed",
                "had one, it's expired now",
                "pre-approved before but the letter ran out",
            ]
        ), {"financing": "none"}
    if kind in (7, 8):
        # A letter with an end date, before or after the day the answer was given.
        offset = rng.choice([-90, -45, -20, 30, 60, 120])
        until = as_of + timedelta(days=offset)
        month_year = f"{MONTH_NAMES[until.month - 1]} {until.year}"
        text = rng.choice(
            [
                f"pre-approved, letter good through {month_year}",
                f"Yes, approval valid until {until.isoformat()}",
                f"approved with {lender}, expires {month_year}",
            ]
        )
        # "Through <month>" covers that month; a date covers that day.
        last_day = until if "valid until" in text else _end_of_month(until.year, until.month)
        return text, {"financing": "pre_approved" if last_day >= as_of else "none"}
    if kind == 9:
        return rng.choice(
            [
                "I'm not sure",
                "don't know",
                "my husband handles that",
                "not sure what that means",
                "idk",
                "n/a",
            ]
        ), {"financing": "unknown"}
    if kind == 10:
        return rng.choice(
            [
                "no, we're not pre-approved",
                "not approved yet",
                "No pre-approval",
                "Haven't been preapproved",
            ]
        ), {"financing": "none"}
    return rng.choice(
        [
            "Cash, but might finance part",
            "paying cash for most of it",
            "cash offer",
        ]
    ), {"financing": "cash"}


# ---------------------------------------------------------------- timeline


def _timeline(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    kind = rng.randrange(13)
    if kind == 0:
        months = rng.randint(1, 12)
        text = rng.choice(
            [
                f"in {months} months",
                f"within {months} months",
                f"{months} months",
                f"next {months} months or so",
            ]
        )
        if months == 1:
            text = rng.choice(["within a month", "in 1 month", "about a month"])
        return text, {"move_by": _add_months(as_of, months).isoformat()}
    if kind == 1:
        days = rng.choice([30, 45, 60, 90, 120])
        return rng.choice([f"{days} days", f"within {days} days", f"in the next {days} days"]), {
            "move_by": (as_of + timedelta(days=days)).isoformat()
        }
    if kind == 2:
        weeks = rng.choice([2, 3, 4, 6, 8])
        return rng.choice([f"{weeks} weeks", f"in {weeks} weeks", f"within {weeks} wks"]), {
            "move_by": (as_of + timedelta(weeks=weeks)).isoformat()
        }
    if kind in (3, 4):
        month = rng.randint(1, 12)
        name = rng.choice([MONTH_NAMES[month - 1], MONTH_SHORT[month - 1]])
        text = rng.choice(
            [f"by {name}", f"before {name}", f"hoping for {name}", f"by end of {name}"]
        )
        target = _next_month_end(as_of, month)
        if text.startswith("before"):
            target = target.replace(day=1) - timedelta(days=1)
            if target < as_of:
                target = _end_of_month(target.year + 1, target.month)
        return text, {"move_by": target.isoformat()}
    if kind == 5:
        month = rng.randint(1, 12)
        year = as_of.year + 1
        text = rng.choice(
            [f"{MONTH_NAMES[month - 1]} {year}", f"by {MONTH_SHORT[month - 1]} {year}"]
        )
        return text, {"move_by": _end_of_month(year, month).isoformat()}
    if kind == 6:
        return rng.choice(
            ["asap", "ASAP!", "right away", "immediately", "yesterday lol", "as soon as possible"]
        ), {"move_by": (as_of + timedelta(days=14)).isoformat()}
    if kind == 7:
        return rng.choice(
            [
                "not right now, maybe next year",
                "next year sometime",
                "sometime next year",
                "probably next year",
            ]
        ), {"move_by": date(as_of.year + 1, 6, 30).isoformat()}
    if kind == 8:
        return rng.choice(
            [
                "just looking around",
                "I'm not sure",
                "no rush, just browsing",
                "don't know yet",
                "depends on the market",
                "whenever the right place comes up",
            ]
        ), {"unknown": True}
    if kind == 9:
        return rng.choice(["end of the year", "by year end", "before the end of this year"]), {
            "move_by": date(as_of.year, 12, 31).isoformat()
        }
    if kind == 10:
        months = rng.choice([2, 3, 6])
        word = {2: "two", 3: "three", 6: "six"}[months]
        text = rng.choice([f"{word} months", f"in {word} months", "a couple of months"])
        if text == "a couple of months":
            months = 2
        return text, {"move_by": _add_months(as_of, months).isoformat()}
    if kind == 11:
        low = rng.choice([3, 6])
        high = low + 3
        return rng.choice([f"{low}-{high} months", f"{low} to {high} months"]), {
            "move_by": _add_months(as_of, high).isoformat()
        }
    years = rng.choice([1, 2])
    return rng.choice([f"within {years} year{'s' if years > 1 else ''}", f"in {years} yr"]), {
        "move_by": _add_months(as_of, 12 * years).isoformat()
    }


# ---------------------------------------------------------------- location

PLACES = [
    "Austin",
    "Round Rock",
    "Cedar Park",
    "South Austin",
    "Pflugerville",
    "Georgetown",
    "Lakeway",
    "North Denver",
    "Highlands Ranch",
    "Capitol Hill",
    "Park Slope",
    "Oak Park",
    "San Mateo",
    "Mission District",
    "Buckhead",
    "Decatur",
    "The Woodlands",
    "Katy",
    "Sugar Land",
    "Scottsdale",
]


def _location(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    a, b, c = rng.sample(PLACES, 3)
    kind = rng.randrange(9)
    if kind == 0:
        return a, {"areas": [a]}
    if kind == 1:
        return rng.choice([f"{a} or {b}", f"{a}/{b}", f"{a} / {b}"]), {"areas": [a, b]}
    if kind == 2:
        return rng.choice([f"{a}, {b} and {c}", f"{a}, {b}, {c}", f"{a}, {b} or {c}"]), {
            "areas": [a, b, c]
        }
    if kind == 3:
        return rng.choice(
            [f"somewhere near {a}", f"in or around {a}", f"{a} area", f"close to {a}"]
        ), {"areas": [a]}
    if kind == 4:
        return rng.choice(
            [f"preferably {a}", f"{a} ideally", f"{a.lower()}", f"Near {a} if possible"]
        ), {"areas": [a]}
    if kind == 5:
        return rng.choice(
            ["anywhere", "not sure yet", "open to suggestions", "don't know", "wherever", "?"]
        ), {"unknown": True}
    if kind == 6:
        return rng.choice([f"{a} but not {b}", f"{a}, no {b}"]), {"areas": [a]}
    if kind == 7:
        return f"{a} or {b} area", {"areas": [a, b]}
    return rng.choice([f"{a} and {b}", f"either {a} or {b}"]), {"areas": [a, b]}


# ---------------------------------------------------------------- property type


def _property(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    kind = rng.randrange(13)
    beds = rng.choice([2, 3, 4, 5])
    if kind == 12:
        kind_word = rng.choice(["house", "condo", "townhouse"])
        types = {"house": "single_family", "condo": "condo", "townhouse": "townhouse"}
        text = rng.choice([f"{kind_word}, at least {beds} bedrooms", f"{beds}-bedroom {kind_word}"])
        return text, {"types": [types[kind_word]], "bedrooms": beds}
    if kind in (0, 1):
        return rng.choice(
            [
                "SFH",
                "single family",
                "single-family home",
                "a house with a yard",
                "detached house",
                "House",
            ]
        ), {"types": ["single_family"], "bedrooms": None}
    if kind == 2:
        return rng.choice(["condo", "a condo downtown", "Condominium", "apartment-style condo"]), {
            "types": ["condo"],
            "bedrooms": None,
        }
    if kind == 3:
        return rng.choice(["townhouse", "townhome", "a townhome, end unit if possible"]), {
            "types": ["townhouse"],
            "bedrooms": None,
        }
    if kind == 4:
        return rng.choice(["condo or townhouse", "townhome or condo", "condo/townhome"]), {
            "types": ["condo", "townhouse"],
            "bedrooms": None,
        }
    if kind == 5:
        return rng.choice(
            [f"{beds} bed 2 bath", f"{beds}br", f"{beds} bedrooms", f"{beds}bd/2ba"]
        ), {"types": [], "bedrooms": beds}
    if kind == 6:
        return rng.choice(
            [f"{beds} bedroom house", f"{beds}br single family", f"{beds} bed SFH"]
        ), {
            "types": ["single_family"],
            "bedrooms": beds,
        }
    if kind == 7:
        return rng.choice(
            ["duplex", "a fourplex", "multi-family", "small multifamily for rental"]
        ), {
            "types": ["multi_family"],
            "bedrooms": None,
        }
    if kind == 8:
        return rng.choice(["land", "a lot to build on", "acreage"]), {
            "types": ["land"],
            "bedrooms": None,
        }
    if kind == 9:
        return rng.choice(["not a condo, a house", "house, no condos", "no HOA condos - house"]), {
            "types": ["single_family"],
            "bedrooms": None,
        }
    if kind == 10:
        return rng.choice(["not sure", "open to anything", "whatever fits the budget", "idk"]), {
            "unknown": True
        }
    return rng.choice(["house or townhouse", "single family or townhome"]), {
        "types": ["single_family", "townhouse"],
        "bedrooms": None,
    }


# ---------------------------------------------------------------- contact preference


def _contact(rng: random.Random, as_of: date) -> tuple[str, dict[str, Any]]:
    kind = rng.randrange(13)
    hour = rng.choice([4, 5, 6, 7, 8])
    when = rng.choice(
        ["in the morning", "after work", "at lunch", f"after {hour}pm", "on weekends"]
    )
    if kind == 11:
        return rng.choice([f"text {when}", f"Texting {when} is best", f"text me {when}"]), {
            "preferred": ["text"],
            "excluded": [],
        }
    if kind == 12:
        text = rng.choice([f"call {when}", f"Phone {when}", f"email, or call {when}"])
        preferred = ["email", "phone"] if text.startswith("email") else ["phone"]
        return text, {"preferred": preferred, "excluded": []}
    if kind == 0:
        return rng.choice(["no calls", "please don't call", "No phone calls please"]), {
            "preferred": [],
            "excluded": ["phone"],
        }
    if kind == 1:
        return rng.choice(
            ["Don't text, email me", "email please, no texts", "no texting - email is best"]
        ), {"preferred": ["email"], "excluded": ["text"]}
    if kind == 2:
        return rng.choice(["text", "texting is best", "Text me", "sms", "WhatsApp"]), {
            "preferred": ["text"],
            "excluded": [],
        }
    if kind == 3:
        return rng.choice(["call me after 5", "phone", "call", "Phone call in the evening"]), {
            "preferred": ["phone"],
            "excluded": [],
        }
    if kind == 4:
        return rng.choice(["email", "e-mail", "Email works best", "by email"]), {
            "preferred": ["email"],
            "excluded": [],
        }
    if kind == 5:
        return rng.choice(["email only", "only email"]), {
            "preferred": ["email"],
            "excluded": ["phone", "text"],
        }
    if kind == 6:
        return rng.choice(["text only", "only text please", "texts only, I can't take calls"]), {
            "preferred": ["text"],
            "excluded": ["phone", "email"],
        }
    if kind == 7:
        return rng.choice(["phone or text", "call or text", "text or call is fine"]), {
            "preferred": ["phone", "text"],
            "excluded": [],
        }
    if kind == 8:
        return rng.choice(
            ["please don't call, texting is fine", "no calls, text me", "Text, don't call"]
        ), {"preferred": ["text"], "excluded": ["phone"]}
    if kind == 9:
        return rng.choice(["whatever works", "any", "doesn't matter", "no preference"]), {
            "unknown": True
        }
    return rng.choice(["evenings", "weekends are best", "after 6pm"]), {
        "preferred": [],
        "excluded": [],
    }


RENDERERS: dict[str, Renderer] = {
    "budget": _budget,
    "pre_approval": _financing,
    "timeline": _timeline,
    "location": _location,
    "property_type": _property,
    "contact_preference": _contact,
}
PER_QUESTION = 60


def build(seed: int = SEED) -> list[Item]:
    rng = random.Random(seed)
    items: list[Item] = []
    for question, render in RENDERERS.items():
        seen: set[tuple[str, str]] = set()
        attempts = 0
        while sum(1 for i in items if i["question"] == question) < PER_QUESTION:
            attempts += 1
            if attempts > 10_000:
                raise RuntimeError(f"not enough distinct phrasings for {question}")
            as_of = rng.choice(AS_OF_DATES)
            text, label = render(rng, as_of)
            # The same words on another day can mean another date; keep those apart.
            key = (text, as_of.isoformat() if question in ("timeline", "pre_approval") else "")
            if key in seen:
                continue
            seen.add(key)
            items.append(
                {
                    "id": f"{question}-{len(seen):03d}",
                    "question": question,
                    "text": text,
                    "as_of": as_of.isoformat(),
                    "label": label,
                }
            )
    return items


def split(items: list[Item], seed: int = SEED) -> tuple[list[Item], list[Item]]:
    rng = random.Random(seed + 1)
    dev: list[Item] = []
    test: list[Item] = []
    for question in RENDERERS:
        group = [i for i in items if i["question"] == question]
        rng.shuffle(group)
        cut = round(len(group) * TEST_SHARE)
        test.extend(group[:cut])
        dev.extend(group[cut:])
    return dev, test


def _write(path: Path, items: list[Item]) -> str:
    text = "".join(json.dumps(item, sort_keys=True) + "\n" for item in items)
    path.write_text(text, encoding="utf-8")
    return hashlib.sha256(text.encode()).hexdigest()


def fresh_split(seed: int, known: list[Item]) -> list[Item]:
    """Items of another seed whose (question, text, day) appear in no earlier split."""
    seen = {(i["question"], i["text"], i["as_of"]) for i in known}
    fresh = [i for i in build(seed) if (i["question"], i["text"], i["as_of"]) not in seen]
    for item in fresh:
        item["id"] = f"b-{item['id']}"
    return fresh


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.lead_answers_build")
    parser.add_argument(
        "--fresh-seed",
        type=int,
        help="also write test_b.jsonl: a second test split from this seed, new items only",
    )
    args = parser.parse_args(argv)
    DATA.mkdir(parents=True, exist_ok=True)
    dev, test = split(build())
    parts = [("dev.jsonl", dev), ("test.jsonl", test)]
    if args.fresh_seed is not None:
        parts.append(("test_b.jsonl", fresh_split(args.fresh_seed, dev + test)))
    sums = [f"{_write(DATA / name, part)}  {name}" for name, part in parts]
    (DATA / "SHA256SUMS").write_text("\n".join(sums) + "\n", encoding="utf-8")
    print(", ".join(f"{len(part)} items in {name}" for name, part in parts))


if __name__ == "__main__":
    main(sys.argv[1:])
