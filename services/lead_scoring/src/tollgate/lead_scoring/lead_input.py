"""Checking a Lead message and turning it into the plain facts the scores read."""

from __future__ import annotations

from dataclasses import dataclass, replace
from datetime import UTC, date, datetime

from google.protobuf import timestamp_pb2

from tollgate.common.errors import invalid_argument
from tollgate.lead_scoring.answers import QUESTIONS, ReadAnswers, read_answers
from tollgate.lead_scoring.engagement import SECONDS_PER_DAY, Event, EventKind
from tollgate.lead_scoring.structured_answers import apply_structured
from tollgate.v1 import common_pb2, lead_scoring_pb2

MAX_LEAD_ID_CHARS = 200
MAX_ANSWER_CHARS = 2_000
MAX_EVENTS = 5_000
MAX_CONVERSATION_MESSAGES = 500
MAX_ATTRIBUTES = 100

# Range of google.protobuf.Timestamp: 0001-01-01 to 9999-12-31.
_MIN_SECONDS = -62_135_596_800
_MAX_SECONDS = 253_402_300_799

_KINDS = {
    lead_scoring_pb2.ENGAGEMENT_TYPE_MESSAGE: EventKind.MESSAGE,
    lead_scoring_pb2.ENGAGEMENT_TYPE_REPLY: EventKind.REPLY,
    lead_scoring_pb2.ENGAGEMENT_TYPE_OPEN: EventKind.OPEN,
    lead_scoring_pb2.ENGAGEMENT_TYPE_VISIT: EventKind.VISIT,
}


@dataclass(frozen=True)
class LeadInput:
    """A lead's facts as of one moment: the same shape for a scored lead and a training row."""

    lead_id: str
    source: str
    answers: ReadAnswers
    # Events at or before the moment of scoring; later ones are ignored.
    events: tuple[Event, ...]
    # Days since the lead was created, when known.
    age_days: float | None
    # The day of the moment of scoring (dates in answers are read against it).
    as_of_date: date


def day_of(epoch_seconds: float) -> date:
    return datetime.fromtimestamp(epoch_seconds, UTC).date()


def lead_messages(lead: lead_scoring_pb2.Lead) -> int:
    """Messages the lead wrote in the conversation (they count as replies)."""
    return sum(
        1
        for message in lead.conversation
        if message.role == common_pb2.ROLE_USER
        and any(b.HasField("text") and b.text.text.strip() for b in message.content)
    )


def seconds_of(stamp: timestamp_pb2.Timestamp, field_path: str) -> float:
    if not (_MIN_SECONDS <= stamp.seconds <= _MAX_SECONDS) or not (
        0 <= stamp.nanos < 1_000_000_000
    ):
        raise invalid_argument(f"{field_path} is not a valid timestamp.", field_path)
    return stamp.seconds + stamp.nanos / 1e9


def read_lead(lead: lead_scoring_pb2.Lead, as_of: float, field_path: str) -> LeadInput:
    """The lead's facts as of `as_of` (epoch seconds); INVALID_ARGUMENT names the bad field."""
    if not lead.HasField("profile"):
        raise invalid_argument(f"{field_path}.profile is required.", f"{field_path}.profile")
    profile = lead.profile
    lead_id = profile.lead_id.strip()
    if not lead_id:
        raise invalid_argument(
            f"{field_path}.profile.lead_id is required.", f"{field_path}.profile.lead_id"
        )
    if len(lead_id) > MAX_LEAD_ID_CHARS:
        raise invalid_argument(
            f"{field_path}.profile.lead_id is longer than {MAX_LEAD_ID_CHARS} characters.",
            f"{field_path}.profile.lead_id",
        )
    if len(profile.attributes) > MAX_ATTRIBUTES:
        raise invalid_argument(
            f"{field_path}.profile.attributes has more than {MAX_ATTRIBUTES} entries.",
            f"{field_path}.profile.attributes",
        )
    texts: dict[str, str] = {}
    for question in QUESTIONS:
        text = getattr(lead.answers, question)
        if len(text) > MAX_ANSWER_CHARS:
            raise invalid_argument(
                f"{field_path}.answers.{question} is longer than {MAX_ANSWER_CHARS} characters.",
                f"{field_path}.answers.{question}",
            )
        texts[question] = text
    if len(lead.events) > MAX_EVENTS:
        raise invalid_argument(
            f"{field_path}.events has {len(lead.events)} events; at most {MAX_EVENTS} are allowed.",
            f"{field_path}.events",
        )
    if len(lead.conversation) > MAX_CONVERSATION_MESSAGES:
        raise invalid_argument(
            f"{field_path}.conversation has more than {MAX_CONVERSATION_MESSAGES} messages.",
            f"{field_path}.conversation",
        )
    stamped: list[tuple[EventKind, float]] = []
    for i, event in enumerate(lead.events):
        path = f"{field_path}.events[{i}]"
        kind = _KINDS.get(event.type)
        if kind is None:
            raise invalid_argument(f"{path}.type must be message, reply, open or visit.", path)
        if not event.HasField("at"):
            raise invalid_argument(f"{path}.at is required.", f"{path}.at")
        stamped.append((kind, seconds_of(event.at, f"{path}.at")))
    created: float | None = None
    if profile.HasField("created_at"):
        created = seconds_of(profile.created_at, f"{field_path}.profile.created_at")
    # The lead's own words in the conversation are replies, dated when the conversation was.
    spoken_at = as_of if created is None else min(as_of, created)
    if lead.HasField("conversation_at"):
        spoken_at = seconds_of(lead.conversation_at, f"{field_path}.conversation_at")
    stamped.extend((EventKind.REPLY, spoken_at) for _ in range(lead_messages(lead)))
    facts = lead_facts(lead_id, profile.source, texts, stamped, created, as_of)
    if lead.HasField("structured_answers"):
        read = apply_structured(
            facts.answers,
            lead.structured_answers,
            facts.as_of_date,
            f"{field_path}.structured_answers",
            seconds_of,
        )
        facts = replace(facts, answers=read)
    return facts


def lead_facts(
    lead_id: str,
    source: str,
    texts: dict[str, str],
    stamped_events: list[tuple[EventKind, float]],
    created: float | None,
    as_of: float,
) -> LeadInput:
    """A lead as of `as_of` (epoch seconds) from plain facts; events after it are ignored."""
    events = tuple(
        Event(kind, (as_of - at) / SECONDS_PER_DAY) for kind, at in stamped_events if at <= as_of
    )
    age_days = None if created is None else max(0.0, (as_of - created) / SECONDS_PER_DAY)
    as_of_date = day_of(as_of)
    return LeadInput(lead_id, source, read_answers(texts, as_of_date), events, age_days, as_of_date)
