"""Answers a CRM holds as fields (`StructuredAnswers`): checked, laid over the read free text,
and the answers as read sent back in the same shape."""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Mapping
from datetime import UTC, date, datetime
from typing import Any

from google.protobuf import timestamp_pb2

from tollgate.common.errors import invalid_argument
from tollgate.lead_scoring.answer_budget import BudgetRange
from tollgate.lead_scoring.answer_financing import Financing, FinancingState
from tollgate.lead_scoring.answer_preferences import (
    Channel,
    ContactWish,
    PropertyType,
    PropertyWish,
)
from tollgate.lead_scoring.answers import ReadAnswers
from tollgate.v1 import lead_scoring_pb2 as pb

MICROS_PER_DOLLAR = 1_000_000
# Refuses an out-of-range timestamp with INVALID_ARGUMENT naming the field.
StampCheck = Callable[[timestamp_pb2.Timestamp, str], float]
MAX_AREAS = 50
MAX_AREA_CHARS = 200
MAX_BEDROOMS = 50

_FINANCING = {
    pb.FINANCING_CASH: Financing.CASH,
    pb.FINANCING_PRE_APPROVED: Financing.PRE_APPROVED,
    pb.FINANCING_PRE_QUALIFIED: Financing.PRE_QUALIFIED,
    pb.FINANCING_NONE: Financing.NONE,
}
_FINANCING_PROTO = {value: key for key, value in _FINANCING.items()}
_TYPES = {
    pb.PROPERTY_TYPE_SINGLE_FAMILY: PropertyType.SINGLE_FAMILY,
    pb.PROPERTY_TYPE_CONDO: PropertyType.CONDO,
    pb.PROPERTY_TYPE_TOWNHOUSE: PropertyType.TOWNHOUSE,
    pb.PROPERTY_TYPE_MULTI_FAMILY: PropertyType.MULTI_FAMILY,
    pb.PROPERTY_TYPE_LAND: PropertyType.LAND,
    pb.PROPERTY_TYPE_MOBILE_HOME: PropertyType.MOBILE_HOME,
}
_TYPES_PROTO = {value: key for key, value in _TYPES.items()}
_CHANNELS = {
    pb.CONTACT_CHANNEL_PHONE: Channel.PHONE,
    pb.CONTACT_CHANNEL_TEXT: Channel.TEXT,
    pb.CONTACT_CHANNEL_EMAIL: Channel.EMAIL,
}
_CHANNELS_PROTO = {value: key for key, value in _CHANNELS.items()}


def date_of(stamp: timestamp_pb2.Timestamp) -> date:
    return datetime.fromtimestamp(stamp.seconds, UTC).date()


def _stamp(day: date) -> timestamp_pb2.Timestamp:
    moment = datetime(day.year, day.month, day.day, tzinfo=UTC)
    return timestamp_pb2.Timestamp(seconds=int(moment.timestamp()))


def _enum(value: int, table: Mapping[Any, object], path: str, names: str) -> None:
    if value not in table:
        raise invalid_argument(f"{path} must be one of {names}.", path)


def _budget(given: pb.StructuredAnswers, path: str) -> BudgetRange | None:
    low, high = given.budget_min_micros, given.budget_max_micros
    for value, name in ((low, "budget_min_micros"), (high, "budget_max_micros")):
        if value < 0:
            raise invalid_argument(f"{path}.{name} cannot be negative.", f"{path}.{name}")
    if low and high and low > high:
        raise invalid_argument(
            f"{path}.budget_min_micros is above budget_max_micros.", f"{path}.budget_min_micros"
        )
    if not (low or high):
        return None
    return BudgetRange(low // MICROS_PER_DOLLAR or None, high // MICROS_PER_DOLLAR or None)


def apply_structured(
    read: ReadAnswers,
    given: pb.StructuredAnswers,
    as_of: date,
    path: str,
    check_stamp: StampCheck,
) -> ReadAnswers:
    """`read` with every set field of `given` in place of what the text said."""
    changes: dict[str, object] = {}
    used: set[str] = set()
    budget = _budget(given, path)
    if budget is not None:
        changes["budget"] = budget
        used.add("budget")
    if given.financing != pb.FINANCING_UNSPECIFIED:
        _enum(
            given.financing,
            _FINANCING,
            f"{path}.financing",
            "cash, pre-approved, pre-qualified or none",
        )
        financing = _FINANCING[given.financing]
        expires = None
        if given.HasField("financing_expires_at"):
            check_stamp(given.financing_expires_at, f"{path}.financing_expires_at")
            expires = date_of(given.financing_expires_at)
            if financing is Financing.PRE_APPROVED and expires < as_of:
                financing = Financing.NONE
        changes["financing"] = FinancingState(financing, expires)
        used.add("pre_approval")
    if given.HasField("target_move_date"):
        check_stamp(given.target_move_date, f"{path}.target_move_date")
        changes["move_by"] = date_of(given.target_move_date)
        used.add("timeline")
    if given.areas:
        if len(given.areas) > MAX_AREAS:
            raise invalid_argument(
                f"{path}.areas has more than {MAX_AREAS} entries.", f"{path}.areas"
            )
        for i, area in enumerate(given.areas):
            if not area.strip() or len(area) > MAX_AREA_CHARS:
                raise invalid_argument(
                    f"{path}.areas[{i}] must be a place name of 1 to {MAX_AREA_CHARS} characters.",
                    f"{path}.areas[{i}]",
                )
        changes["areas"] = tuple(a.strip() for a in given.areas)
        used.add("location")
    if given.property_types or given.min_bedrooms:
        for i, kind in enumerate(given.property_types):
            _enum(kind, _TYPES, f"{path}.property_types[{i}]", "a known property type")
        if given.min_bedrooms > MAX_BEDROOMS:
            raise invalid_argument(
                f"{path}.min_bedrooms is more than {MAX_BEDROOMS}.", f"{path}.min_bedrooms"
            )
        changes["property"] = PropertyWish(
            frozenset(_TYPES[k] for k in given.property_types), given.min_bedrooms or None
        )
        used.add("property_type")
    if given.preferred_channels or given.excluded_channels:
        for name in ("preferred_channels", "excluded_channels"):
            for i, channel in enumerate(getattr(given, name)):
                _enum(channel, _CHANNELS, f"{path}.{name}[{i}]", "phone, text or email")
        excluded = frozenset(_CHANNELS[c] for c in given.excluded_channels)
        preferred = tuple(
            dict.fromkeys(
                _CHANNELS[c] for c in given.preferred_channels if _CHANNELS[c] not in excluded
            )
        )
        changes["contact"] = ContactWish(preferred, excluded)
        used.add("contact_preference")
    return dataclasses.replace(read, structured=frozenset(used), **changes)  # type: ignore[arg-type]


def to_proto(read: ReadAnswers) -> pb.StructuredAnswers:
    """The answers as read, in the contract's shape."""
    out = pb.StructuredAnswers()
    if read.budget is not None:
        out.budget_min_micros = (read.budget.low or 0) * MICROS_PER_DOLLAR
        out.budget_max_micros = (read.budget.high or 0) * MICROS_PER_DOLLAR
    if read.financing.financing is not Financing.UNKNOWN:
        out.financing = _FINANCING_PROTO[read.financing.financing]
    if read.financing.expires is not None:
        out.financing_expires_at.CopyFrom(_stamp(read.financing.expires))
    if read.move_by is not None:
        out.target_move_date.CopyFrom(_stamp(read.move_by))
    out.areas.extend(read.areas)
    out.property_types.extend(sorted(_TYPES_PROTO[t] for t in read.property.types))
    out.min_bedrooms = read.property.bedrooms or 0
    out.preferred_channels.extend(_CHANNELS_PROTO[c] for c in read.contact.preferred)
    out.excluded_channels.extend(sorted(_CHANNELS_PROTO[c] for c in read.contact.excluded))
    return out
