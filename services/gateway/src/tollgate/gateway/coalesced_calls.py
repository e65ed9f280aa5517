"""What a call carried in a batch RPC raises: exactly what the unary call it replaces would.

The gateway's coalescing stubs (`ledger_coalescing`, `cache_coalescing`) send the calls of
concurrent requests together, yet each caller goes through `dependencies.call` (breaker,
deadline, metrics) as before. So each call must end as a unary call would:

- its own refusal as the `grpc.aio.AioRpcError` of its status code, sentence and details
  (`google.rpc` BadRequest and ErrorInfo), a mistake of the caller's own (never counted against
  the breaker) that never fails the other calls of its RPC;
- a failure of the RPC itself (the service down or too slow) as every carried call's failure,
  each raised as its own error (they are raised in separate tasks) and counted by the breaker
  like a failed unary call;
- its own deadline (`timeout`): a caller whose deadline passes is answered DEADLINE_EXCEEDED at
  once, while its call still travels with its RPC (as a unary call whose deadline passed at the
  server may still run).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable
from typing import TypeVar

import grpc

from tollgate.common.errors import ServiceError
from tollgate.common.interceptors import status_details

Reply = TypeVar("Reply")


async def as_unary(pending: Awaitable[Reply], timeout: float | None) -> Reply:
    """`pending` (a call's outcome from its batch), raising what the unary call would."""
    try:
        # asyncio.timeout, not wait_for: no task per call.
        async with asyncio.timeout(timeout):
            return await pending
    except ServiceError as error:  # this call's own answer: the status a unary call would have
        raise rpc_error(error) from None
    except grpc.aio.AioRpcError as error:  # the RPC failed: each call raises its own copy
        raise grpc.aio.AioRpcError(
            error.code(),
            error.initial_metadata(),
            error.trailing_metadata(),
            error.details(),
            error.debug_error_string(),
        ) from None
    except TimeoutError:
        raise grpc.aio.AioRpcError(
            grpc.StatusCode.DEADLINE_EXCEEDED,
            grpc.aio.Metadata(),
            grpc.aio.Metadata(),
            "Deadline Exceeded",
        ) from None


def rpc_error(error: ServiceError) -> grpc.aio.AioRpcError:
    """The error a unary call refused with `error` raises: code, sentence and details."""
    trailing = grpc.aio.Metadata(("grpc-status-details-bin", status_details(error)))
    return grpc.aio.AioRpcError(error.code, grpc.aio.Metadata(), trailing, error.message)
