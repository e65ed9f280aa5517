"""Checks on what callers send, each failure an INVALID_ARGUMENT with a sentence and a field."""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping

from google.protobuf import duration_pb2

from tollgate.cache.canonical import KEY_LENGTH
from tollgate.cache.tasks import UnknownTaskError, task_name
from tollgate.common.errors import invalid_argument
from tollgate.v1 import common_pb2

MAX_TENANT_ID_LENGTH = 256
MAX_TEMPLATE_VERSION_LENGTH = 256
MAX_TAGS_PER_INVALIDATION = 1000
MAX_TEMPLATE_VARIABLES = 64
MAX_CONTACT_SCOPE_LENGTH = 256

_KEY = re.compile(rf"[0-9a-f]{{{KEY_LENGTH}}}")
_LEASE = re.compile(r"[0-9]{1,20}-[0-9a-f]{32}")
_MAX_NANOS = 999_999_999


def tenant_id(value: str, field: str) -> str:
    if not value:
        raise invalid_argument(f"{field} is required: every entry belongs to a tenant.", field)
    if len(value) > MAX_TENANT_ID_LENGTH:
        raise invalid_argument(
            f"{field} is {len(value)} characters long; at most {MAX_TENANT_ID_LENGTH} are allowed.",
            field,
        )
    return value


def task_of(context: common_pb2.RequestContext) -> str:
    try:
        return task_name(context.task)
    except UnknownTaskError:
        raise invalid_argument(
            f"context.task {context.task} is not a task type this service knows.", "context.task"
        ) from None


def template_version(value: str) -> str:
    if len(value) > MAX_TEMPLATE_VERSION_LENGTH:
        raise invalid_argument(
            f"template_version is {len(value)} characters long; at most "
            f"{MAX_TEMPLATE_VERSION_LENGTH} are allowed.",
            "template_version",
        )
    return value


def template_variables(values: Mapping[str, str]) -> dict[str, str]:
    if len(values) > MAX_TEMPLATE_VARIABLES:
        raise invalid_argument(
            f"template_variables has {len(values)} entries; at most {MAX_TEMPLATE_VARIABLES} "
            "are allowed.",
            "template_variables",
        )
    return dict(values)


def contact_scope(value: str) -> str:
    if len(value) > MAX_CONTACT_SCOPE_LENGTH:
        raise invalid_argument(
            f"contact_scope is {len(value)} characters long; at most {MAX_CONTACT_SCOPE_LENGTH} "
            "are allowed.",
            "contact_scope",
        )
    return value


def claude_request(request: common_pb2.ClaudeRequest) -> None:
    if not request.messages:
        raise invalid_argument("request.messages is empty: there is nothing to look up.", "request")


def key_hash(value: str) -> str:
    if not _KEY.fullmatch(value):
        raise invalid_argument(
            "key is not a key from ExactLookup (64 lower-case hex digits); a lookup of a request "
            "that is not cacheable returns no key, and such a request must not be stored.",
            "key",
        )
    return value


def fill_lease(value: str, *, required: bool = False) -> str:
    if not value:
        if required:
            raise invalid_argument("fill_lease is required: it is what is released.", "fill_lease")
        return value
    if not _LEASE.fullmatch(value):
        raise invalid_argument("fill_lease is not a lease from ExactLookup.", "fill_lease")
    return value


def seconds(duration: duration_pb2.Duration, field: str) -> float:
    """A non-negative, well-formed duration in seconds."""
    if abs(duration.nanos) > _MAX_NANOS or (
        duration.seconds and duration.nanos and (duration.seconds > 0) != (duration.nanos > 0)
    ):
        raise invalid_argument(f"{field} is not a valid duration.", field)
    value = duration.seconds + duration.nanos / 1e9
    if value < 0:
        raise invalid_argument(f"{field} must not be negative.", field)
    return value


def tags(values: Iterable[str], *, limit: int, max_length: int, field: str = "tags") -> list[str]:
    """The tags, without repeats, in their first order."""
    unique = list(dict.fromkeys(values))
    if len(unique) > limit:
        raise invalid_argument(
            f"{field} has {len(unique)} tags; at most {limit} are allowed.", field
        )
    for index, tag in enumerate(unique):
        if not tag:
            raise invalid_argument(f"{field}[{index}] is empty; a tag needs a name.", field)
        if len(tag) > max_length:
            raise invalid_argument(
                f"{field}[{index}] is {len(tag)} characters long; the limit is {max_length}.",
                field,
            )
    return unique
