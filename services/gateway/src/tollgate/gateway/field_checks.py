"""Checks of single caller-controlled fields: timestamps, identifiers, enums, amounts.

Each refusal is INVALID_ARGUMENT naming the field, raised before any backend is called: a
caller's mistake must never reach a service as an input it cannot handle, where it would come
back as INTERNAL and count as that service failing.
"""

from __future__ import annotations

from collections.abc import Iterable

from google.protobuf import timestamp_pb2
from google.protobuf.internal.enum_type_wrapper import EnumTypeWrapper

from tollgate.common.errors import invalid_argument

# The range google.protobuf.Timestamp defines: 0001-01-01T00:00:00Z to 9999-12-31T23:59:59Z.
MIN_TIMESTAMP_SECONDS = -62_135_596_800
MAX_TIMESTAMP_SECONDS = 253_402_300_799
MAX_NANOS = 999_999_999

# Ids, tags and names are short labels; anything longer is not one.
MAX_IDENTIFIER_CHARS = 256
MAX_TAGS = 64


def check_timestamp(value: timestamp_pb2.Timestamp, field: str) -> None:
    if not 0 <= value.nanos <= MAX_NANOS:
        raise invalid_argument(
            f"{field}.nanos must be between 0 and {MAX_NANOS:,}; got {value.nanos:,}.", field
        )
    if not MIN_TIMESTAMP_SECONDS <= value.seconds <= MAX_TIMESTAMP_SECONDS:
        raise invalid_argument(
            f"{field}.seconds must lie between years 0001 and 9999; got {value.seconds:,}.", field
        )


def check_time_range(
    start: timestamp_pb2.Timestamp | None, end: timestamp_pb2.Timestamp | None
) -> None:
    """`from` and `to` valid and, when both are given, `from` not after `to`."""
    if start is not None:
        check_timestamp(start, "from")
    if end is not None:
        check_timestamp(end, "to")
    if start is not None and end is not None and start.ToNanoseconds() > end.ToNanoseconds():
        raise invalid_argument("'from' is after 'to'.", "from")


def check_identifier(value: str, field: str, *, required: bool = False) -> None:
    """A label: at most MAX_IDENTIFIER_CHARS printable characters, no control characters."""
    if not value:
        if required:
            raise invalid_argument(f"{field} is required.", field)
        return
    if len(value) > MAX_IDENTIFIER_CHARS:
        raise invalid_argument(
            f"{field} is {len(value):,} characters; the limit is {MAX_IDENTIFIER_CHARS}.", field
        )
    if not value.isprintable():
        raise invalid_argument(f"{field} may not contain control characters.", field)


def check_identifiers(values: Iterable[str], field: str, *, limit: int = MAX_TAGS) -> None:
    items = list(values)
    if len(items) > limit:
        raise invalid_argument(f"{field} has {len(items):,} entries; the limit is {limit}.", field)
    for index, value in enumerate(items):
        check_identifier(value, f"{field}[{index}]", required=True)


def check_enum(enum: EnumTypeWrapper, value: int, field: str, *, required: bool = False) -> None:
    """Enums are open on the wire: a caller can send a number no version of the API defines."""
    if value not in enum.values() or (required and value == 0):
        names = ", ".join(
            v.name for v in enum.DESCRIPTOR.values if not v.name.endswith("UNSPECIFIED")
        )
        raise invalid_argument(f"{field} must be one of {names}; got {value}.", field)


def check_amount(value: int, field: str) -> None:
    """Micro-dollars and token counts an admin sets: never negative."""
    if value < 0:
        raise invalid_argument(f"{field} may not be negative; got {value:,}.", field)
