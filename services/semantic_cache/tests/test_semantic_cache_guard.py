"""The near-miss guard: each category of near-miss is refused, with a reason; the same question
written another way passes."""

from __future__ import annotations

from decimal import Decimal

import pytest

from tollgate.semantic_cache.guard import NearMissGuard, extract_features


@pytest.fixture(scope="module")
def guard() -> NearMissGuard:
    return NearMissGuard()


@pytest.mark.parametrize(
    ("cached", "asked", "kind", "reason"),
    [
        # Amounts and counts.
        (
            "3-bed homes under $500k in Austin",
            "3-bed homes under $600k in Austin",
            "numbers",
            "numbers differ: $600k vs $500k",
        ),
        (
            "3-bed homes under $500k in Austin",
            "4-bed homes under $500k in Austin",
            "numbers",
            "numbers differ: 4 vs 3",
        ),
        ("Homes over 2,000 square feet", "Homes over 2,500 square feet", "numbers", None),
        ("What's a 3% commission on $450k?", "What's a 2.5% commission on $450k?", "numbers", None),
        (
            "Homes with 3 beds and 2 baths",
            "Homes with 2 beds and 3 baths",
            "numbers",
            "numbers count different things: 2 (bed) vs 2 (bath)",
        ),
        ("what about the second one?", "what about the first one?", "numbers", None),
        (
            "Homes that sold in the last 30 days",
            "Homes that sold in the last 60 days",
            "dates",
            None,
        ),
        # Dates and times.
        (
            "Summarize the showing feedback from last week",
            "Summarize the showing feedback from this week",
            "dates",
            "dates differ: this week vs last week",
        ),
        (
            "Schedule a showing on March 5th at 3pm",
            "Schedule a showing on March 6th at 3pm",
            "dates",
            None,
        ),
        ("Book the tour for Monday at 10am", "Book the tour for Monday at 11am", "dates", None),
        ("Any open houses on Saturday?", "Any open houses on Sunday?", "dates", None),
        ("Median price in Q1", "Median price in Q2", "dates", None),
        # Names: places, people, streets.
        (
            "3-bed homes under $500k in Austin",
            "3-bed homes under $500k in Dallas",
            "names",
            "names differ: Dallas vs Austin",
        ),
        (
            "What is Sarah Johnson's budget?",
            "What is Michael Chen's budget?",
            "names",
            "names differ: Michael, Chen vs Sarah, Johnson",
        ),
        ("Sarah wants a condo near downtown", "Michael wants a condo near downtown", "names", None),
        ("condos in austin under 400k", "condos in dallas under 400k", "names", None),
        ("email to okafor about the offer", "email to becker about the offer", "names", None),
        ("what is priya's budget?", "what is aisha's budget?", "names", None),
        ("HOA fees at 12 Oak St", "HOA fees at 12 Elm St", "names", None),
        ("Is an FHA loan an option here?", "Is a VA loan an option here?", "names", None),
        ("list nashville home sales this year", "list raleigh home sales this year", "names", None),
        # Negation.
        (
            "Is the property pet-friendly?",
            "Is the property not pet-friendly?",
            "negation",
            "negation differs: not vs none",
        ),
        ("Which rentals allow pets?", "Which rentals don't allow pets?", "negation", None),
        ("Homes with a garage", "Homes without a garage", "negation", None),
        (
            "Has the buyer been pre-approved?",
            "Has the buyer never been pre-approved?",
            "negation",
            None,
        ),
        # Comparatives and superlatives.
        (
            "3-bed homes under $500k in Austin",
            "3-bed homes over $500k in Austin",
            "comparison",
            "comparison differs: over vs under",
        ),
        ("Homes for at least $400k", "Homes for at most $400k", "comparison", None),
        ("Homes sold before June", "Homes sold after June", "comparison", None),
        ("The cheapest condo downtown", "The most expensive condo downtown", "comparison", None),
        ("Which leads are more engaged?", "Which leads are less engaged?", "comparison", None),
        (
            "Has the price dropped since May?",
            "Has the price increased since May?",
            "comparison",
            None,
        ),
        ("The largest lot for sale", "The smallest lot for sale", "comparison", None),
        # Domain slots.
        (
            "3-bed homes under $500k in Austin",
            "3-bed condos under $500k in Austin",
            "attributes",
            "property type differs: condo vs house",
        ),
        ("Which of my leads are hot?", "Which of my leads are cold?", "attributes", None),
        ("Draft an email to the buyer", "Draft a text to the buyer", "attributes", None),
        ("Tips for first-time buyers", "Tips for first-time sellers", "attributes", None),
        ("Homes with a pool downtown", "Homes with a garage downtown", "attributes", None),
    ],
)
def test_near_misses_are_refused_with_a_reason(
    guard: NearMissGuard, cached: str, asked: str, kind: str, reason: str | None
) -> None:
    rejection = guard.check(asked, cached)
    assert rejection is not None, f"{asked!r} must not be served {cached!r}'s answer"
    assert rejection.kind == kind
    if reason is not None:
        assert rejection.reason == reason
    # Refusal is symmetric: the cached question would not be served the asked one's either.
    assert guard.check(cached, asked) is not None


@pytest.mark.parametrize(
    ("cached", "asked"),
    [
        ("3-bed homes under $500k in Austin", "3 bedroom houses below 500k in Austin"),
        (
            "3-bed homes under $500k in Austin",
            "three-bedroom homes for less than $500,000 in Austin",
        ),
        ("Homes under $1.2M", "Homes under $1,200,000"),
        ("Homes under half a million", "Homes under $500,000"),
        ("Is the property pet-friendly?", "Does the property allow pets?"),
        ("What is Sarah Johnson's budget?", "How much can Sarah Johnson spend?"),
        (
            "Schedule a showing at 42 Oak St on March 5th at 3pm",
            "Book a showing at 42 Oak Street on 5 March at 15:00",
        ),
        (
            "Summarize last week's showing feedback",
            "Give me a summary of the showing feedback from last week",
        ),
        ("Find the cheapest 2-bed condo in Tampa", "Find the lowest priced 2 bed condo in Tampa"),
        ("Which listings are under $400k?", "Which listings cost less than $400k?"),
        ("SHOW ME HOMES IN AUSTIN", "show me homes in austin"),
        ("Homes with at least 3 bedrooms", "Homes with 3+ bedrooms"),
        ("Homes in Denver over the past month", "Homes in Denver during the last month"),
        (
            "What did the buyers think after the showing?",
            "What did the buyers think after the showing",
        ),
    ],
)
def test_the_same_question_in_other_words_passes(
    guard: NearMissGuard, cached: str, asked: str
) -> None:
    assert guard.check(asked, cached) is None


def test_amounts_are_normalised() -> None:
    values = [m.value for m in extract_features("$500k, $500,000, 500 thousand, $1.2M").numbers]
    assert values == [Decimal(500_000)] * 3 + [Decimal(1_200_000)]


def test_units_are_read_after_numbers() -> None:
    numbers = extract_features("a 3-bed, 2.5 bath home of 1,800 sq ft on 2 acres, 5%").numbers
    assert [(m.value, m.unit) for m in numbers] == [
        (Decimal(3), "bed"),
        (Decimal("2.5"), "bath"),
        (Decimal(1800), "sqft"),
        (Decimal(2), "acre"),
        (Decimal(5), "percent"),
    ]


def test_dates_are_not_counted_as_numbers_and_months_are_not_names() -> None:
    features = extract_features("Showings on May 5th and 6/12 for Sarah")
    assert [m.value for m in features.numbers] == []
    assert [t for d in features.dates for t in d.tokens] == [
        "month:5",
        "day:5",
        "month:6",
        "day:12",
    ]
    assert features.entities.names == ("sarah",)


def test_the_pronoun_one_is_not_a_number() -> None:
    assert extract_features("Which one is cheaper?").numbers == ()
    assert [m.value for m in extract_features("a one bedroom condo").numbers] == [Decimal(1)]


def test_a_capitalised_first_word_is_a_name_only_when_uncommon() -> None:
    assert extract_features("Show me homes").entities.names == ()
    assert extract_features("Okafor wants a condo").entities.names == ("okafor",)


def test_street_suffixes_are_not_names_themselves() -> None:
    assert extract_features("HOA at 12 Maple Court").entities.names == ("maple",)
    assert extract_features("Going for a test drive").entities.names == ()
