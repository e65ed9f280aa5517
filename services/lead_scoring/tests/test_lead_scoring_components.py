"""The math of each signal, the blend and the parsing of Claude's answer."""

from __future__ import annotations

import math
from datetime import date

import pytest

from tollgate.lead_scoring.answers import read_answers
from tollgate.lead_scoring.blend import LeadClass, Signal, blend, classify
from tollgate.lead_scoring.churn import ChurnParameters, churn_risk
from tollgate.lead_scoring.engagement import Event, EventKind, summarise
from tollgate.lead_scoring.qualification import QualificationResult, score_qualification
from tollgate.lead_scoring.reasoning_parse import parse_reasoning

from .conftest import FULL_ANSWERS

TODAY = date(2026, 12, 6)


def _qualify(texts: dict[str, str]) -> QualificationResult:
    return score_qualification(read_answers(texts, TODAY))


def test_every_specific_answer_scores_full_marks() -> None:
    result = _qualify(FULL_ANSWERS)
    assert (result.points, result.value, result.answered, result.specific) == (7.0, 100.0, 7, 7)


def test_no_answers_score_zero() -> None:
    result = _qualify({})
    assert (result.points, result.value, result.answered) == (0.0, 0.0, 0)
    assert "still to ask: budget" in result.explanation


def test_answers_that_say_nothing_earn_half_a_point() -> None:
    answers = {"budget": "not sure", "timeline": "just looking around", "location": "anywhere"}
    result = _qualify(answers)
    assert result.points == 1.5
    assert result.value == pytest.approx(1.5 / 7 * 100)
    assert result.specific == 0
    assert "no real answer yet on: budget, timeline, location" in result.explanation


def test_short_specific_answers_earn_full_credit() -> None:
    # Each of these was read as vague before; each states a fact.
    answers = {
        "budget": "under 500",
        "motivation": "investment",
        "property_type": "3 bed 2 bath",
        "contact_preference": "no calls",
        "timeline": "I'm not sure",  # says nothing: half a point, not full credit
    }
    result = _qualify(answers)
    assert result.points == 4 + 0.5
    assert result.specific == 4


PARAMS = ChurnParameters(
    recency_half_life_days=14.0, frequency_half_life_days=30.0, frequency_saturation=4.0
)


def test_churn_follows_recency_and_frequency_decay() -> None:
    events = [Event(EventKind.REPLY, 30.0), Event(EventKind.VISIT, 60.0), Event(EventKind.OPEN, 0)]
    result = churn_risk(events, PARAMS)
    # Weights reply 1, visit 1.5, open 0.3; one and two frequency half-lives ago, and now.
    activity = 1.0 * 0.5 + 1.5 * 0.25 + 0.3 * 1.0
    recency = 1.0  # the open was just now
    frequency = activity / (activity + 4.0)
    assert result.decayed_activity == pytest.approx(activity)
    assert result.recency == pytest.approx(recency)
    assert result.risk == pytest.approx(100 * (1 - (0.5 * recency + 0.5 * frequency)))


def test_one_recency_half_life_halves_recency() -> None:
    result = churn_risk([Event(EventKind.REPLY, 14.0)], PARAMS)
    assert result.recency == pytest.approx(0.5)
    assert result.days_since_last == 14.0


def test_a_lead_who_never_answered_is_measured_from_our_first_contact() -> None:
    events = [Event(EventKind.MESSAGE, 28.0), Event(EventKind.MESSAGE, 1.0)]
    result = churn_risk(events, PARAMS)
    assert result.available
    assert result.decayed_activity == 0.0
    assert result.recency == pytest.approx(0.25)  # first contact two half-lives ago
    assert result.risk == pytest.approx(100 * (1 - 0.5 * 0.25))
    assert "since we first reached out 28 days ago" in result.explanation


def test_a_new_lead_with_no_contact_has_no_churn_risk_yet() -> None:
    result = churn_risk([], PARAMS)
    assert not result.available
    assert "New lead" in result.explanation


def test_summary_counts_the_recent_window() -> None:
    summary = summarise(
        [Event(EventKind.REPLY, 3), Event(EventKind.REPLY, 45), Event(EventKind.MESSAGE, 1)]
    )
    assert (summary.replies_30d, summary.messages_30d, summary.days_since_last) == (1, 1, 3)
    assert summary.days_since_first_contact == 45


def test_no_history_is_new_not_silent() -> None:
    summary = summarise([])
    assert not summary.contacted
    assert summary.quiet_days == 0.0


def _signal(name: str, value: float, weight: float, available: bool = True) -> Signal:
    return Signal(name, available, value, value, weight, 1.0, "")


def test_contributions_add_up_exactly_to_the_score() -> None:
    signals = [
        _signal("qualification", 71.4285714, 0.35),
        _signal("conversion", 33.3333333, 0.35),
        Signal("churn_risk", True, 27.1, 100 - 27.1, 0.15, 1.0, ""),
        _signal("reasoning", 82.0, 0.15),
    ]
    result = blend(signals, 70, 40)
    assert sum(c.contribution for c in result.components) == result.score
    expected = 0.35 * 71.4285714 + 0.35 * 33.3333333 + 0.15 * 72.9 + 0.15 * 82.0
    assert result.score == pytest.approx(expected, abs=1e-3)
    assert math.isclose(sum(c.weight for c in result.components), 1.0)


def test_unavailable_signals_give_their_weight_to_the_others() -> None:
    signals = [
        _signal("qualification", 80.0, 0.35),
        _signal("conversion", 40.0, 0.35),
        _signal("reasoning", 0.0, 0.3, available=False),
    ]
    result = blend(signals, 70, 40)
    weights = [c.weight for c in result.components]
    assert weights == [0.5, 0.5, 0.0]
    assert result.score == 60.0
    assert result.confidence == 0.7  # 0.35 + 0.35 of 1.0 covered
    assert result.lead_class is LeadClass.WARM


def test_classes_follow_thresholds() -> None:
    assert classify(70.0, 70, 40) is LeadClass.HOT
    assert classify(69.99, 70, 40) is LeadClass.WARM
    assert classify(39.99, 70, 40) is LeadClass.COLD


def test_reasoning_json_is_parsed_even_inside_a_fence() -> None:
    text = (
        'Here you go:\n```json\n{"narrative": "Keen.", "insights": ["a", "b"], '
        '"next_best_action": "Call.", "score": 140}\n```'
    )
    parsed = parse_reasoning(text)
    assert parsed.narrative == "Keen."
    assert parsed.insights == ("a", "b")
    assert parsed.next_best_action == "Call."
    assert parsed.score == 100.0  # clamped to the scale


def test_non_json_reasoning_falls_back_to_the_raw_text() -> None:
    parsed = parse_reasoning("  The lead sounds keen but has no financing.  ")
    assert parsed.narrative == "The lead sounds keen but has no financing."
    assert (parsed.insights, parsed.next_best_action, parsed.score) == ((), "", None)
