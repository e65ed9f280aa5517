"""Reading the answers: the misreadings a CRM team reported, structured fields, and the frozen
labelled set."""

from __future__ import annotations

import importlib.util
from datetime import date
from pathlib import Path
from types import ModuleType

import grpc
import pytest

from tollgate.lead_scoring.answer_budget import BudgetRange, read_budget
from tollgate.lead_scoring.answer_dates import move_by
from tollgate.lead_scoring.answer_financing import Financing, read_financing
from tollgate.lead_scoring.answer_preferences import (
    Channel,
    PropertyType,
    read_areas,
    read_contact,
    read_property,
)
from tollgate.lead_scoring.answers import read_answers
from tollgate.lead_scoring.qualification import score_qualification
from tollgate.v1 import common_pb2, lead_scoring_pb2, lead_scoring_pb2_grpc

from .conftest import AS_OF, make_lead

DECEMBER = date(2026, 12, 6)
MARCH = date(2026, 3, 10)


@pytest.mark.parametrize(
    ("text", "financing"),
    [
        ("No, paying cash", Financing.CASH),
        ("cash buyer", Financing.CASH),
        ("Yes, but it expired", Financing.NONE),
        ("yes, pre-approved with Chase", Financing.PRE_APPROVED),
        ("not approved yet", Financing.NONE),
        ("pre-qualified only", Financing.PRE_QUALIFIED),
        ("I'm not sure", Financing.UNKNOWN),
        ("pre-approved, letter good through October 2026", Financing.NONE),
        ("pre-approved, letter good through January 2027", Financing.PRE_APPROVED),
    ],
)
def test_financing_reads_cash_negation_and_expiry(text: str, financing: Financing) -> None:
    assert read_financing(text, DECEMBER).financing is financing


def test_timeline_is_not_urgent_when_it_says_not_right_now() -> None:
    assert move_by("not right now, maybe next year", DECEMBER) == date(2027, 6, 30)
    assert move_by("asap", DECEMBER) == date(2026, 12, 20)


def test_by_march_depends_on_today() -> None:
    assert move_by("by March", DECEMBER) == date(2027, 3, 31)
    assert move_by("by March", MARCH) == date(2026, 3, 31)
    assert move_by("by March", date(2026, 4, 1)) == date(2027, 3, 31)


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("in 60 days", date(2027, 2, 4)),
        ("6-9 months", date(2027, 9, 6)),
        ("2 weeks", date(2026, 12, 20)),
    ],
)
def test_relative_dates_resolve_against_as_of(text: str, expected: date) -> None:
    assert move_by(text, DECEMBER) == expected


@pytest.mark.parametrize("text", ["I'm not sure", "just looking around", "don't know", "idk"])
def test_dont_know_is_unknown_everywhere(text: str) -> None:
    answers = read_answers(dict.fromkeys(("budget", "timeline", "location"), text), DECEMBER)
    assert (answers.budget, answers.move_by, answers.areas) == (None, None, ())
    assert read_financing(text, DECEMBER).financing is Financing.UNKNOWN
    assert not read_contact(text).known
    assert not read_property(text).known


def test_short_answers_that_state_a_fact_are_read() -> None:
    assert read_budget("under 500") == BudgetRange(None, 500_000)
    assert read_property("SFH").types == {PropertyType.SINGLE_FAMILY}
    assert read_property("3 bed 2 bath").bedrooms == 3
    result = score_qualification(
        read_answers(
            {"motivation": "investment", "property_type": "SFH", "budget": "under 500"}, DECEMBER
        )
    )
    assert result.points == 3.0


def test_budget_ranges_floors_and_ceilings() -> None:
    assert read_budget("400-450k") == read_budget("between 400 and 450k")
    assert read_budget("at least 300k") == BudgetRange(300_000, None)
    assert read_budget("no more than $825,000") == BudgetRange(None, 825_000)
    assert read_budget("3 beds") is None


def test_contact_exclusions_are_not_preferences() -> None:
    no_calls = read_contact("no calls")
    assert no_calls.excluded == {Channel.PHONE}
    assert no_calls.preferred == ()
    assert no_calls.channel() is Channel.TEXT
    email = read_contact("Don't text, email me")
    assert email.preferred == (Channel.EMAIL,)
    assert email.excluded == {Channel.TEXT}
    assert read_contact("email only").excluded == {Channel.PHONE, Channel.TEXT}


def test_areas_drop_fillers_and_exclusions() -> None:
    assert read_areas("somewhere near Round Rock or Cedar Park") == ("Round Rock", "Cedar Park")
    assert read_areas("Austin but not Pflugerville") == ("Austin",)


async def test_structured_fields_win_over_the_text_and_are_echoed(
    scoring: lead_scoring_pb2_grpc.LeadScoringServiceStub,
) -> None:
    lead = make_lead(answers={"pre_approval": "yes, pre-approved", "budget": "$300k"})
    lead.structured_answers.financing = lead_scoring_pb2.FINANCING_CASH
    lead.structured_answers.budget_max_micros = 650_000 * 1_000_000
    lead.structured_answers.excluded_channels.append(lead_scoring_pb2.CONTACT_CHANNEL_PHONE)
    request = lead_scoring_pb2.ComputeLeadScoreRequest(context=_context(), lead=lead)
    request.as_of.seconds = AS_OF
    score = (await scoring.ComputeLeadScore(request)).score
    read = score.answers_read
    assert read.financing == lead_scoring_pb2.FINANCING_CASH
    assert read.budget_max_micros == 650_000_000_000
    assert list(read.excluded_channels) == [lead_scoring_pb2.CONTACT_CHANNEL_PHONE]
    assert all(
        a.channel != lead_scoring_pb2.CONTACT_CHANNEL_PHONE for a in score.recommended_actions
    )


@pytest.mark.parametrize(
    ("field", "value", "message"),
    [
        ("budget_min_micros", -1, "budget_min_micros cannot be negative"),
        ("financing", 99, "financing must be one of"),
        ("min_bedrooms", 500, "min_bedrooms is more than"),
    ],
)
async def test_bad_structured_fields_are_refused_naming_the_field(
    scoring: lead_scoring_pb2_grpc.LeadScoringServiceStub, field: str, value: int, message: str
) -> None:
    lead = make_lead()
    setattr(lead.structured_answers, field, value)
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await scoring.ComputeLeadScore(
            lead_scoring_pb2.ComputeLeadScoreRequest(context=_context(), lead=lead)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert f"lead.structured_answers.{message}" in (caught.value.details() or "")


def _context() -> common_pb2.RequestContext:
    return common_pb2.RequestContext(tenant_id="acme-realty")


def _evaluation() -> ModuleType:
    """bench/lead_answers_eval.py (bench is a folder of scripts, not an installed package)."""
    path = Path(__file__).parents[3] / "bench" / "lead_answers_eval.py"
    spec = importlib.util.spec_from_file_location("lead_answers_eval", path)
    assert spec is not None
    assert spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_frozen_test_splits_meet_the_goal_on_every_field() -> None:
    lead_answers_eval = _evaluation()
    # load() refuses a split whose SHA-256 differs from the one recorded when it was frozen.
    for split in ("test", "test_b"):
        results = lead_answers_eval.evaluate(lead_answers_eval.load(split))
        for question, (right, total, wrong) in results.items():
            assert right / total >= lead_answers_eval.GOAL, (split, question, wrong)
