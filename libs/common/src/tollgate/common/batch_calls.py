"""Batch RPCs that carry the calls of concurrent requests (the ledger's `Settle`, the cache's
`ExactBatch`): each call is answered as its unary call would have been, with its reply or its
own error, so a client can hand each caller exactly what a call sent alone would have given it.

A batch result is a message with a `result` oneof: one member per kind of call, and `error`, a
message of code, message, reason and metadata (what the unary call's status and its
google.rpc.ErrorInfo would carry). These helpers turn a ServiceError into those fields on the
server, and a result back into its reply or its ServiceError on the client.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Iterable, Mapping, Sequence, Sized
from typing import Any, Protocol, TypeVar

import grpc

from tollgate.common.errors import ServiceError, invalid_argument
from tollgate.common.ids import new_request_id

Reply = TypeVar("Reply")

# What a batch RPC (Settle, ExactBatch, SemanticBatch) carries at most: more is a client bug, and
# the whole RPC is refused. Clients that coalesce calls never send more.
MAX_BATCH_CALLS = 1000
# Room a batch's reply keeps for the results that are not a lookup's answer (a store's reason,
# the longest, is under 200 bytes) and the framing: what a server subtracts from the message
# limit before it counts the room its lookups' answers may take.
RESULTS_RESERVE_BYTES = MAX_BATCH_CALLS * 256

_CODES = {code.value[0]: code for code in grpc.StatusCode}


class CallError(Protocol):
    """The error member of a batch result (e.g. LedgerCallError, ExactCallError)."""

    @property
    def code(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def reason(self) -> str: ...
    @property
    def metadata(self) -> Mapping[str, str]: ...


class BatchResult(Protocol):
    def WhichOneof(self, oneof_group: Any) -> str | None: ...


def error_fields(error: ServiceError) -> dict[str, Any]:
    """The fields of a batch result's error that carry `error`."""
    return {
        "code": error.code.value[0],
        "message": error.message,
        "reason": error.reason,
        "metadata": error.metadata,
    }


def check_batch_size(calls: Sized) -> None:
    """More calls than a batch RPC accepts is a client bug: the whole RPC is refused."""
    if len(calls) > MAX_BATCH_CALLS:
        raise invalid_argument(
            f"calls may hold at most {MAX_BATCH_CALLS} calls (got {len(calls)}).", "calls"
        )


async def run_concurrently(calls: Sequence[Awaitable[Reply]]) -> list[Reply]:
    """Every call of a batch at once, as concurrent unary calls would run; one call alone (the
    common case at low load) needs no task of its own."""
    if len(calls) == 1:
        return [await calls[0]]
    return list(await asyncio.gather(*calls))


def refusal_fields(error: ServiceError) -> dict[str, Any]:
    """`error_fields`, and the fields of its google.rpc.BadRequest (`fields`), for the batch
    results whose error carries them (ExactCallError, SemanticCallError)."""
    return {**error_fields(error), "fields": [path for path, _ in error.field_violations]}


async def answer_or_refusal(
    call: Awaitable[Reply], log: logging.Logger, rpc: str
) -> Reply | ServiceError:
    """One call of a batch, run as its unary RPC would run it: its reply, or the ServiceError
    it was refused with; a failure its service did not expect is that call's alone."""
    try:
        return await call
    except ServiceError as refused:
        return refused
    except Exception as exc:  # this call's alone: the others keep their answers
        return unexpected_error(exc, log, rpc)


def unexpected_error(exc: BaseException, log: logging.Logger, rpc: str) -> ServiceError:
    """A call of a batch failed in a way its service did not expect: that call's alone (the
    others keep their answers). The traceback goes to the log, the caller gets a sentence with
    a reference, as the error interceptor does for a unary call."""
    reference = new_request_id().replace("req_", "err_")
    log.error(
        "a %s call failed (reference %s)", rpc, reference, exc_info=exc, extra={"ref": reference}
    )
    return ServiceError(f"Internal error; quote reference {reference} when reporting it.")


def service_error(error: CallError, field_paths: Iterable[str] = ()) -> ServiceError:
    """The ServiceError the unary call would have raised; `field_paths` are the fields of its
    google.rpc.BadRequest, each described by the message."""
    return ServiceError(
        error.message,
        _CODES.get(error.code, grpc.StatusCode.UNKNOWN),
        field_violations=[(path, error.message) for path in field_paths],
        metadata=dict(error.metadata),
        reason=error.reason,
    )


def check_count(results: Sized, calls: Sized, service: str) -> None:
    """A batch answered with another number of results than calls is a failure of the RPC."""
    if len(results) != len(calls):
        raise ServiceError(
            f"the {service} answered {len(results)} of {len(calls)} calls",
            grpc.StatusCode.UNAVAILABLE,
        )


def unwrap(result: BatchResult, kind: str, expected: type[Reply], service: str) -> Reply:
    """The `kind` reply of a batch result, or the ServiceError its call was refused with."""
    which = result.WhichOneof("result")
    if which == "error":
        error = result.error  # type: ignore[attr-defined]
        raise service_error(error, getattr(error, "fields", ()))
    reply = getattr(result, kind)
    if which != kind or not isinstance(reply, expected):
        raise ServiceError(
            f"the {service} answered a {kind} with {which}", grpc.StatusCode.UNAVAILABLE
        )
    return reply
