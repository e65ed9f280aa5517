"""Per-field accuracy of the lead scoring answer readers on the labelled answers.

    uv run python -m bench.lead_answers_eval                 # the frozen test split
    uv run python -m bench.lead_answers_eval --split dev --errors

The test split's SHA-256 must match bench/data/lead_answers/SHA256SUMS (it was frozen before the
readers were tuned); the run stops if it does not. How the set was made: bench/lead_answers_build.py
and docs/lead_scoring.md. What counts as right, per question:

- budget: both ends equal (an open end equals an open end); "unknown" when nothing is read;
- pre_approval: the financing state (cash, pre_approved, pre_qualified, none, unknown);
- timeline: the move-by date within max(7 days, 10% of the time to it); "unknown" when none;
- location: the same set of areas (case and a leading "the" ignored);
- property_type: the same set of types and the same bedroom count;
- contact_preference: the same preferred and excluded channels.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import sys
from collections.abc import Callable
from datetime import date
from pathlib import Path
from typing import Any

from tollgate.lead_scoring.answer_budget import read_budget
from tollgate.lead_scoring.answer_dates import move_by
from tollgate.lead_scoring.answer_financing import read_financing
from tollgate.lead_scoring.answer_preferences import read_areas, read_contact, read_property

DATA = Path(__file__).parent / "data" / "lead_answers"
GOAL = 0.95

Check = Callable[[str, date, dict[str, Any]], tuple[bool, str]]


def _budget(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = read_budget(text)
    if label.get("unknown"):
        return got is None, repr(got)
    if got is None:
        return False, "unknown"
    return (got.low, got.high) == (label["min"], label["max"]), f"{got.low}..{got.high}"


def _financing(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = read_financing(text, as_of).financing.value
    return got == label["financing"], got


def _timeline(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = move_by(text, as_of)
    if label.get("unknown"):
        return got is None, str(got)
    if got is None:
        return False, "unknown"
    expected = date.fromisoformat(label["move_by"])
    tolerance = max(7.0, 0.1 * (expected - as_of).days)
    return abs((got - expected).days) <= tolerance, got.isoformat()


def _place(name: str) -> str:
    return name.casefold().removeprefix("the ").strip()


def _location(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = read_areas(text)
    if label.get("unknown"):
        return not got, repr(got)
    return {_place(a) for a in got} == {_place(a) for a in label["areas"]}, repr(got)


def _property(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = read_property(text)
    if label.get("unknown"):
        return not got.known, repr(got)
    ok = {t.value for t in got.types} == set(label["types"]) and got.bedrooms == label["bedrooms"]
    return ok, f"{sorted(t.value for t in got.types)} beds={got.bedrooms}"


def _contact(text: str, as_of: date, label: dict[str, Any]) -> tuple[bool, str]:
    got = read_contact(text)
    if label.get("unknown"):
        return not got.known, repr(got)
    ok = {c.value for c in got.preferred} == set(label["preferred"]) and {
        c.value for c in got.excluded
    } == set(label["excluded"])
    return ok, f"prefer={[c.value for c in got.preferred]} exclude={sorted(got.excluded)}"


CHECKS: dict[str, Check] = {
    "budget": _budget,
    "pre_approval": _financing,
    "timeline": _timeline,
    "location": _location,
    "property_type": _property,
    "contact_preference": _contact,
}


def frozen_sums() -> dict[str, str]:
    sums = {}
    for line in (DATA / "SHA256SUMS").read_text(encoding="utf-8").splitlines():
        digest, name = line.split()
        sums[name] = digest
    return sums


def load(split: str) -> list[dict[str, Any]]:
    path = DATA / f"{split}.jsonl"
    raw = path.read_bytes()
    expected = frozen_sums().get(path.name)
    if hashlib.sha256(raw).hexdigest() != expected:
        raise SystemExit(f"{path} does not match its frozen SHA-256 in SHA256SUMS")
    return [json.loads(line) for line in raw.decode("utf-8").splitlines() if line.strip()]


def evaluate(items: list[dict[str, Any]]) -> dict[str, tuple[int, int, list[str]]]:
    """question → (right, total, the wrong items described)."""
    results: dict[str, tuple[int, int, list[str]]] = {}
    for question, check in CHECKS.items():
        right, total, wrong = 0, 0, []
        for item in (i for i in items if i["question"] == question):
            ok, got = check(item["text"], date.fromisoformat(item["as_of"]), item["label"])
            total += 1
            right += ok
            if not ok:
                said = f"{item['id']} {item['as_of']} {item['text']!r}"
                wrong.append(f"{said}: got {got}, want {item['label']}")
        results[question] = (right, total, wrong)
    return results


def main(argv: list[str]) -> int:
    parser = argparse.ArgumentParser(prog="python -m bench.lead_answers_eval")
    parser.add_argument("--split", choices=("dev", "test", "test_b"), default="test")
    parser.add_argument("--errors", action="store_true", help="list the items read wrong")
    args = parser.parse_args(argv)
    results = evaluate(load(args.split))
    print(f"Answer reading, {args.split} split (goal: at least {GOAL:.0%} per field)\n")
    print("| field | items | right | accuracy | goal met |")
    print("|---|---:|---:|---:|---|")
    all_met = True
    for question, (right, total, _) in results.items():
        accuracy = right / total
        all_met &= accuracy >= GOAL
        met = "yes" if accuracy >= GOAL else "no"
        print(f"| {question} | {total} | {right} | {accuracy:.1%} | {met} |")
    right = sum(r for r, _, _ in results.values())
    total = sum(t for _, t, _ in results.values())
    print(f"| all | {total} | {right} | {right / total:.1%} | {'yes' if all_met else 'no'} |")
    if args.errors:
        for _, _, wrong in results.values():
            for line in wrong:
                print(line)
    return 0 if all_met else 1


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
