"""The near-miss guard: every difference between two questions must be explained as
meaning-preserving; anything unexplained refuses, with the difference named."""

from __future__ import annotations

from pathlib import Path

import pytest

from tollgate.semantic_cache.guard import NearMissGuard, model_vocabulary
from tollgate.semantic_cache.guard.lexicon import LEXICON_DIR, LexiconError, load_lexicon
from tollgate.semantic_cache.settings import DEFAULT_MODEL_DIR


@pytest.fixture(scope="module")
def guard() -> NearMissGuard:
    return NearMissGuard(model_vocabulary(DEFAULT_MODEL_DIR))


@pytest.mark.parametrize(
    ("cached", "asked", "reason"),
    [
        # Units and rate periods: an unknown unit is a difference, not "no unit".
        (
            "What is the rent per month?",
            "What is the rent per year?",
            "unexplained difference: per year vs per month",
        ),
        ("What is the rent per month?", "What is the rent per quarter?", None),
        ("Homes over 2,000 sq ft", "Homes over 2,000 sq m", None),
        ("Homes over 2,000 square feet", "Homes over 2,000 square meters", None),
        ("Lots larger than 2 acres", "Lots larger than 2 hectares", None),
        # Actions with the opposite effect.
        (
            "Add Michael Torres to the buyer campaign",
            "Remove Michael Torres from the buyer campaign",
            None,
        ),
        ("Accept the offer on 88 Birch Lane", "Reject the offer on 88 Birch Lane", None),
        ("Is Sarah pre-approved?", "Is Sarah pre-qualified?", None),
        # Address details.
        (
            "HOA fees at 12 Oak Street",
            "HOA fees at 12 Oak Avenue",
            "unexplained difference: avenue vs street",
        ),
        ("HOA fees at 12 Oak St", "HOA fees at 14 Oak St", None),
        ("HOA fees at 12 Oak St", "HOA fees at 12 Elm St", None),
        # Amounts, counts and what they count.
        ("3-bed homes under $500k in Austin", "3-bed homes under $600k in Austin", None),
        ("3-bed homes under $500k in Austin", "4-bed homes under $500k in Austin", None),
        ("Homes with 3 beds and 2 baths", "Homes with 2 beds and 3 baths", None),
        ("What's a 3% commission on $450k?", "What's a 2.5% commission on $450k?", None),
        ("Median price in Q1", "Median price in Q2", None),
        # Time, direction, names, negation, roles, property types.
        ("Showing feedback from last week", "Showing feedback from this week", None),
        ("Book the tour for Monday at 10am", "Book the tour for Monday at 11am", None),
        ("Homes sold before June", "Homes sold after June", None),
        ("3-bed homes under $500k in Austin", "3-bed homes over $500k in Austin", None),
        ("List my hot leads from Zillow", "List my hot leads sent to Zillow", None),
        ("condos in austin under 400k", "condos in dallas under 400k", None),
        ("Is the property pet-friendly?", "Is the property not pet-friendly?", None),
        ("Which rentals allow pets?", "Which rentals don't allow pets?", None),
        ("Homes with a garage", "Homes without a garage", None),
        ("Tips for first-time buyers", "Tips for first-time sellers", None),
        ("3-bed homes under $500k in Austin", "3-bed condos under $500k in Austin", None),
        ("Is a lease available?", "Is a least available?", None),
    ],
)
def test_an_unexplained_difference_refuses(
    guard: NearMissGuard, cached: str, asked: str, reason: str | None
) -> None:
    rejection = guard.check(asked, cached)
    assert rejection is not None, f"{asked!r} must not be served {cached!r}'s answer"
    assert rejection.reason.startswith("unexplained difference: ")
    if reason is not None:
        assert rejection.reason == reason
    # Refusal is symmetric: the cached question would not be served the asked one's either.
    assert guard.check(cached, asked) is not None


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        # Over-refusals of the category guard this one replaces.
        ("Find single-story homes in Phoenix", "Find one-story homes in Phoenix"),
        ("Condos priced around half a million", "Condos priced around $500,000"),
        ("List the newest listings in Riverside", "List the most recent listings in Riverside"),
        # Inflection, word order, function and politeness words, known equivalences.
        ("3-bed homes under $500k in Austin", "3 bedroom houses below 500k in Austin"),
        ("3-bed homes under $500k in Austin", "In Austin, under $500k, show me 3-bed homes"),
        ("3-bed homes under $500k in Austin", "Hi, could you find me 3br homes in austin < 500k?"),
        ("Homes under $1.2M", "Homes under $1,200,000"),
        ("Is the property pet-friendly?", "Does the property allow pets?"),
        ("Rent per month at 45 Pine Rd", "Monthly rent at 45 Pine Road"),
        ("Find the cheapest 2-bed condo in Tampa", "Find the lowest priced 2 bed condo in Tampa"),
        ("Homes with at least 3 bedrooms", "Homes with 3+ bedrooms"),
        ("Book a showing at 3pm", "Please book a showing at 3:00 PM"),
        ("Which leads haven't been contacted?", "Which leads have not been contacted?"),
        # Typos: a word the model does not know, one edit from the other question's word.
        ("Show me 3-bedroom houses in Austin", "show me 3 bedrom houses in austin"),
        ("Find homes with a fenced yard", "Find homes with a fenecd yard"),
    ],
)
def test_explained_differences_pass(guard: NearMissGuard, cached: str, asked: str) -> None:
    assert guard.check(asked, cached) is None
    assert guard.check(cached, asked) is None


def test_terms_read_values_and_bind_what_they_qualify(guard: NearMissGuard) -> None:
    terms = [t.key for t in guard.terms("Show me 3-bedroom houses under $500k at 3pm in Q1")]
    assert terms == ["#3 bedroom", "hous", "under #500000", "@15:00", "q1"]


def test_a_word_with_two_meanings_in_the_lexicon_is_refused_at_load(tmp_path: Path) -> None:
    for source in LEXICON_DIR.iterdir():
        (tmp_path / source.name).write_text(source.read_text())
    with (tmp_path / "equivalences.txt").open("a") as extra:
        extra.write("reject = accept\n")
    with pytest.raises(LexiconError, match="accept"):
        load_lexicon(tmp_path)


def test_the_shipped_lexicons_load() -> None:
    lexicon = load_lexicon()
    assert lexicon.phrases[lexicon.keys("sq ft")] == " ".join(lexicon.keys("square foot"))
    assert lexicon.keys("half a million") == ("#500000",)


def test_typos_are_corrected_against_each_other_question_despite_cached_terms() -> None:
    # The guard keeps each question's terms as read on their own; a check must still read
    # "bedrom" as the other question's "bedroom", and only against a question that has it.
    guard = NearMissGuard(model_vocabulary(DEFAULT_MODEL_DIR))
    typo, right = "show me 3 bedrom houses in austin", "Show me 3-bedroom houses in Austin"
    assert "#3 bedrom" in [t.key for t in guard.terms(typo)]
    for _ in range(2):
        assert guard.check(typo, right) is None
        assert guard.check(right, typo) is None
    refusal = guard.check(typo, "Show me 3-bathroom houses in Austin")
    assert refusal is not None
    assert refusal.reason == "unexplained difference: 3 bedrom vs 3 bathroom"
