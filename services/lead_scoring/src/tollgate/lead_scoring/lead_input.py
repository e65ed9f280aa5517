"""Checking a Lead message and turning it into the plain facts the scores read."""

from __future__ import annotations

from dataclasses import dataclass

from google.protobuf import timestamp_pb2

from tollgate.common.errors import invalid_argument
from tollgate.lead_scoring.answers import QUESTIONS
from tollgate.lead_scoring.engagement import SECONDS_PER_DAY, Event, EventKind
from tollgate.v1 import lead_scoring_pb2

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
    lead_id: str
    source: str
    answers: dict[str, str]
    # Events at or before the moment of scoring; later ones are ignored.
    events: tuple[Event, ...]
    # Days since the lead was created, when known.
    age_days: float | None


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
    answers: dict[str, str] = {}
    for question in QUESTIONS:
        text = getattr(lead.answers, question)
        if len(text) > MAX_ANSWER_CHARS:
            raise invalid_argument(
                f"{field_path}.answers.{question} is longer than {MAX_ANSWER_CHARS} characters.",
                f"{field_path}.answers.{question}",
            )
        answers[question] = text
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
    events = []
    for i, event in enumerate(lead.events):
        path = f"{field_path}.events[{i}]"
        kind = _KINDS.get(event.type)
        if kind is None:
            raise invalid_argument(f"{path}.type must be message, reply, open or visit.", path)
        if not event.HasField("at"):
            raise invalid_argument(f"{path}.at is required.", f"{path}.at")
        at = seconds_of(event.at, f"{path}.at")
        if at <= as_of:
            events.append(Event(kind, (as_of - at) / SECONDS_PER_DAY))
    age_days = None
    if profile.HasField("created_at"):
        created = seconds_of(profile.created_at, f"{field_path}.profile.created_at")
        age_days = max(0.0, (as_of - created) / SECONDS_PER_DAY)
    return LeadInput(lead_id, profile.source, answers, tuple(events), age_days)
