"""An in-process call behaves as the same call over the network.

One small servicer is served two ways: by a real gRPC server reached over loopback, and by an
`InProcessServer` reached through `open_channel("in-process:...")`. Every test runs against
both, with the same assertions: what the caller sees (replies, codes, details, trailing
metadata, deadlines) and what the handler sees (metadata, time left, cancellation).
"""

from __future__ import annotations

import asyncio
import contextlib
import gc
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from dataclasses import dataclass
from typing import Any

import grpc
import pytest
from google.rpc import error_details_pb2, status_pb2
from opentelemetry import trace

from tollgate.common import in_process
from tollgate.common.channels import open_channel
from tollgate.common.errors import ServiceError
from tollgate.common.interceptors import STATUS_DETAILS_KEY
from tollgate.common.logs import request_fields
from tollgate.common.server import GrpcService, Registration
from tollgate.common.testing import serving, serving_in_process
from tollgate.v1 import orchestrator_pb2, orchestrator_pb2_grpc

SERVICE = "tests-in-process"
# Long enough that a test's caller always acts first; handlers that should stop never wait it out.
FOREVER = 30.0
# How long a handler may take to notice it was cancelled or closed: an upper bound only (each
# wait ends as soon as it happens), with room for a real server on a loaded 2-core machine, where
# a cancelled stream once took over 2 s to reach the server's handler.
PROMPTLY = 10.0

REFUSAL = ServiceError(
    "over the monthly budget",
    grpc.StatusCode.RESOURCE_EXHAUSTED,
    field_violations=[("batch_id", "too expensive")],
    metadata={"limit_micros": "5"},
    reason="BUDGET_EXCEEDED",
)


class Batches(orchestrator_pb2_grpc.OrchestratorServiceServicer):
    """GetBatch and GetBatchResults, each doing what its `batch_id` names."""

    def __init__(self) -> None:
        self.started = asyncio.Event()
        self.cancelled = asyncio.Event()
        self.closed = asyncio.Event()
        self.received: orchestrator_pb2.GetBatchRequest | None = None
        self.sent: orchestrator_pb2.GetBatchResponse | None = None

    async def GetBatch(
        self, request: orchestrator_pb2.GetBatchRequest, context: grpc.aio.ServicerContext
    ) -> orchestrator_pb2.GetBatchResponse:
        self.received = request
        what = request.batch_id
        if what == "refuse":
            raise REFUSAL
        if what == "crash":
            raise RuntimeError("a secret the caller must not see")
        if what == "abort":
            await context.abort(grpc.StatusCode.FAILED_PRECONDITION, "not ready yet")
        if what == "slow":
            await self._wait_until_cancelled()
        batch = orchestrator_pb2.Batch(id=what)
        if what == "metadata":
            batch.request_id = dict(context.invocation_metadata() or ())["x-request-id"]
        if what == "time":
            batch.tenant_id = repr(context.time_remaining())
        self.sent = orchestrator_pb2.GetBatchResponse(batch=batch)
        # The handler keeps using its request: the caller's object must not change with it.
        request.batch_id = "changed by the handler"
        return self.sent

    async def GetBatchResults(
        self, request: orchestrator_pb2.GetBatchResultsRequest, context: grpc.aio.ServicerContext
    ) -> AsyncIterator[orchestrator_pb2.GetBatchResultsResponse]:
        what = request.batch_id
        try:
            if what == "subscribe":
                # As the ledger's StreamAlerts says its subscription is live, before any item.
                await context.send_initial_metadata((("tollgate-subscribed", "1"),))
                await self._wait_until_cancelled()
            for index in range(3 if what in ("three", "fail") else 1_000_000):
                if what == "fail" and index == 2:
                    raise ServiceError("the store went away", grpc.StatusCode.UNAVAILABLE)
                yield orchestrator_pb2.GetBatchResultsResponse(custom_id=str(index))
                if what == "endless":
                    self.started.set()
                    await asyncio.sleep(0.01)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise
        finally:
            self.closed.set()

    async def _wait_until_cancelled(self) -> None:
        self.started.set()
        try:
            await asyncio.sleep(FOREVER)
        except asyncio.CancelledError:
            self.cancelled.set()
            raise


@dataclass
class Served:
    stub: orchestrator_pb2_grpc.OrchestratorServiceStub
    channel: grpc.aio.Channel
    servicer: Batches
    stop: Callable[[float], Awaitable[None]]


def _service(servicer: Batches) -> GrpcService:
    full_name = orchestrator_pb2.DESCRIPTOR.services_by_name["OrchestratorService"].full_name
    add = orchestrator_pb2_grpc.add_OrchestratorServiceServicer_to_server
    return GrpcService(SERVICE, [Registration(full_name, add, servicer)])


@contextlib.asynccontextmanager
async def _serve(kind: str) -> AsyncIterator[Served]:
    # The generated stubs declare every method abstract; the tests call only the two it has.
    servicer = Batches()  # type: ignore[abstract]
    serve = serving if kind == "network" else serving_in_process
    async with serve(_service(servicer)) as running:
        channel = open_channel(running.address)
        try:
            stub = orchestrator_pb2_grpc.OrchestratorServiceStub(channel)
            yield Served(stub, channel, servicer, running.stop)
        finally:
            await channel.close()


@pytest.fixture(params=["network", "in_process"])
async def served(request: pytest.FixtureRequest) -> AsyncIterator[Served]:
    async with _serve(request.param) as running:
        yield running


@pytest.fixture
async def served_in_process() -> AsyncIterator[Served]:
    """For what the network does not promise: asserted of the in-process channel alone."""
    async with _serve("in_process") as running:
        yield running


def _batch(what: str) -> orchestrator_pb2.GetBatchRequest:
    return orchestrator_pb2.GetBatchRequest(batch_id=what)


def _results(what: str) -> orchestrator_pb2.GetBatchResultsRequest:
    return orchestrator_pb2.GetBatchResultsRequest(batch_id=what)


async def _failure(call: Any) -> grpc.aio.AioRpcError:
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await call
    return caught.value


async def _handler_closed(servicer: Batches) -> None:
    """Wait until a stream's handler has ended (its `finally` ran). A gRPC server does not always
    close a cancelled stream's generator itself: when the cancellation finds it writing a reply
    rather than inside the generator, the generator is closed once it is collected. So the wait
    collects garbage as it goes; a handler that is still running (its task holds it) is never
    collected, and the wait fails."""

    async def closed() -> None:
        while not servicer.closed.is_set():
            gc.collect()
            await asyncio.sleep(0.05)

    await asyncio.wait_for(closed(), PROMPTLY)


async def _cancel_once_started(servicer: Batches, caller: Coroutine[Any, Any, Any]) -> None:
    """Run `caller` in a task of its own, and cancel that task once the handler has started."""
    task = asyncio.create_task(caller)
    await asyncio.wait_for(servicer.started.wait(), PROMPTLY)
    task.cancel()
    with pytest.raises(asyncio.CancelledError):
        await task


async def _read_until_error(
    call: Any, pause: float = 0.0
) -> tuple[list[str], grpc.aio.AioRpcError]:
    """The items of a stream read until it fails (taking `pause` seconds over each), and how."""
    read: list[str] = []
    try:
        async for item in call:
            read.append(item.custom_id)
            await asyncio.sleep(pause)
    except grpc.aio.AioRpcError as error:
        return read, error
    raise AssertionError(f"the stream ended without an error after {read}")


def _trailer(error: grpc.aio.AioRpcError, key: str) -> Any:
    values = [value for k, value in error.trailing_metadata() or () if k == key]
    assert len(values) == 1, f"{key} once in {error.trailing_metadata()}"
    return values[0]


async def test_a_reply_arrives(served: Served) -> None:
    reply = await served.stub.GetBatch(_batch("ok"), timeout=5)
    assert reply.batch.id == "ok"


async def test_a_call_runs_unawaited_and_may_be_awaited_twice(served: Served) -> None:
    call = served.stub.GetBatch(_batch("ok"), timeout=5)
    # Never awaited, the call still reaches the handler and ends (grpc.aio starts it at once).
    assert await asyncio.wait_for(call.code(), PROMPTLY) == grpc.StatusCode.OK
    assert served.servicer.received is not None
    assert (await call).batch.id == (await call).batch.id == "ok"


async def test_a_service_error_arrives_with_its_code_details_and_google_rpc_status(
    served: Served,
) -> None:
    error = await _failure(
        served.stub.GetBatch(_batch("refuse"), timeout=5, metadata=[("x-request-id", "req_1")])
    )
    assert error.code() == grpc.StatusCode.RESOURCE_EXHAUSTED
    assert error.details() == "over the monthly budget"
    assert _trailer(error, "x-request-id") == "req_1"
    status = status_pb2.Status.FromString(_trailer(error, STATUS_DETAILS_KEY))
    assert (status.code, status.message) == (
        grpc.StatusCode.RESOURCE_EXHAUSTED.value[0],
        REFUSAL.message,
    )
    bad_request, info = error_details_pb2.BadRequest(), error_details_pb2.ErrorInfo()
    assert status.details[0].Unpack(bad_request)
    assert status.details[1].Unpack(info)
    assert [(v.field, v.description) for v in bad_request.field_violations] == [
        ("batch_id", "too expensive")
    ]
    assert (info.reason, info.domain, dict(info.metadata)) == (
        "BUDGET_EXCEEDED",
        "tollgate",
        {"limit_micros": "5"},
    )


async def test_an_unexpected_exception_is_internal_with_a_reference_and_no_secret(
    served: Served,
) -> None:
    error = await _failure(served.stub.GetBatch(_batch("crash"), timeout=5))
    assert error.code() == grpc.StatusCode.INTERNAL
    assert "quote reference err_" in (error.details() or "")
    assert "secret" not in (error.details() or "")
    status = status_pb2.Status.FromString(_trailer(error, STATUS_DETAILS_KEY))
    assert status.message == error.details()


async def test_an_abort_arrives_with_its_code_and_details(served: Served) -> None:
    error = await _failure(served.stub.GetBatch(_batch("abort"), timeout=5))
    assert (error.code(), error.details()) == (grpc.StatusCode.FAILED_PRECONDITION, "not ready yet")


async def test_a_passed_deadline_is_deadline_exceeded_and_cancels_the_handler(
    served: Served,
) -> None:
    error = await _failure(served.stub.GetBatch(_batch("slow"), timeout=0.3))
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await asyncio.wait_for(served.servicer.cancelled.wait(), PROMPTLY)


async def test_a_cancelled_caller_cancels_the_handler(served: Served) -> None:
    async def call() -> Any:
        return await served.stub.GetBatch(_batch("slow"), timeout=FOREVER)

    await _cancel_once_started(served.servicer, call())
    await asyncio.wait_for(served.servicer.cancelled.wait(), PROMPTLY)


async def test_a_call_cancelled_by_another_task_cancels_its_awaiter_and_the_handler(
    served: Served,
) -> None:
    call = served.stub.GetBatch(_batch("slow"), timeout=FOREVER)

    async def wait() -> Any:
        return await call

    awaiter = asyncio.create_task(wait())
    await asyncio.wait_for(served.servicer.started.wait(), PROMPTLY)
    assert call.cancel()
    with pytest.raises(asyncio.CancelledError):
        await asyncio.wait_for(awaiter, PROMPTLY)
    assert call.cancelled()
    await asyncio.wait_for(served.servicer.cancelled.wait(), PROMPTLY)


async def test_the_handler_sees_the_invocation_metadata(served: Served) -> None:
    reply = await served.stub.GetBatch(
        _batch("metadata"), timeout=5, metadata=[("x-request-id", "req_seen")]
    )
    assert reply.batch.request_id == "req_seen"


async def test_the_handler_sees_the_time_left_of_the_callers_timeout(served: Served) -> None:
    reply = await served.stub.GetBatch(_batch("time"), timeout=5)
    # Loose below: a busy machine may take a while to deliver the first call to a new server;
    # above, gRPC's deadline clock may read a few milliseconds over the timeout.
    assert 3.0 < float(reply.batch.tenant_id) <= 5.1


async def test_request_and_reply_are_copies(served: Served) -> None:
    request = _batch("copy")
    reply = await served.stub.GetBatch(request, timeout=5)
    # The handler changed its request after answering: the caller's is as sent.
    assert request.batch_id == "copy"
    assert served.servicer.received is not None
    assert served.servicer.sent is not None
    assert served.servicer.received.batch_id == "changed by the handler"
    reply.batch.id = "changed by the caller"
    assert served.servicer.sent.batch.id == "copy"
    assert reply is not served.servicer.sent


async def test_an_unknown_method_is_unimplemented(served: Served) -> None:
    unknown = served.channel.unary_unary(
        "/tollgate.v1.OrchestratorService/NoSuchMethod",
        request_serializer=orchestrator_pb2.GetBatchRequest.SerializeToString,
        response_deserializer=orchestrator_pb2.GetBatchResponse.FromString,
    )
    error = await _failure(unknown(_batch("ok"), timeout=5))
    assert error.code() == grpc.StatusCode.UNIMPLEMENTED


async def test_a_stopped_server_is_unavailable(served: Served) -> None:
    await served.stop(0)
    error = await _failure(served.stub.GetBatch(_batch("ok"), timeout=5))
    assert error.code() == grpc.StatusCode.UNAVAILABLE


async def test_initial_metadata_arrives_when_the_handler_sends_it(served: Served) -> None:
    call = served.stub.GetBatchResults(_results("subscribe"), timeout=FOREVER)
    initial = await asyncio.wait_for(call.initial_metadata(), PROMPTLY)
    assert ("tollgate-subscribed", "1") in list(initial)
    call.cancel()
    await _handler_closed(served.servicer)


async def test_a_stream_is_read_to_its_end(served: Served) -> None:
    call = served.stub.GetBatchResults(_results("three"), timeout=5)
    assert [item.custom_id async for item in call] == ["0", "1", "2"]
    assert await call.code() == grpc.StatusCode.OK
    await _handler_closed(served.servicer)


async def test_cancelling_a_stream_read_to_its_end_changes_nothing(served: Served) -> None:
    # As tollgate.gateway.dependencies.stream does after every stream, finished or not.
    call = served.stub.GetBatchResults(_results("three"), timeout=5)
    assert len([item async for item in call]) == 3
    assert not call.cancel()
    assert not call.cancelled()
    assert await call.code() == grpc.StatusCode.OK


async def test_a_stream_the_caller_stops_early_closes_the_handler(served: Served) -> None:
    # As tollgate.gateway.dependencies.stream stops one: leave the loop, then cancel the call.
    call = served.stub.GetBatchResults(_results("endless"), timeout=FOREVER)
    read = 0
    async for _item in call:
        read += 1
        if read == 2:
            break
    call.cancel()
    await _handler_closed(served.servicer)


async def test_a_stream_whose_reader_is_cancelled_cancels_the_handler(
    served_in_process: Served,
) -> None:
    # In-process only: a grpc.aio server does not always end the handler of a stream whose
    # reading task was cancelled (about one run in five, it was still running 10 s later, its
    # generator still held), so the network gives nothing to compare with. In-process, the
    # handler's task is cancelled with the reader.
    served = served_in_process

    async def read() -> None:
        async for _item in served.stub.GetBatchResults(_results("endless"), timeout=FOREVER):
            pass

    await _cancel_once_started(served.servicer, read())
    await _handler_closed(served.servicer)


async def test_the_handlers_log_fields_and_span_never_become_the_readers(served: Served) -> None:
    # Between two items the reader runs its own code: its log lines and the calls it makes
    # must not carry the backend's request fields or sit under the backend's server span.
    fields_before, span_before = request_fields.get(None), trace.get_current_span()
    call = served.stub.GetBatchResults(
        _results("endless"), timeout=FOREVER, metadata=[("x-request-id", "req_backend")]
    )
    async for _item in call:
        assert request_fields.get(None) is fields_before
        assert trace.get_current_span() is span_before
        break
    call.cancel()
    await _handler_closed(served.servicer)


async def test_an_error_mid_stream_arrives_after_the_items_before_it(served: Served) -> None:
    read, error = await _read_until_error(served.stub.GetBatchResults(_results("fail"), timeout=5))
    assert read == ["0", "1"]
    assert error.code() == grpc.StatusCode.UNAVAILABLE
    assert error.details() == "the store went away"
    status = status_pb2.Status.FromString(_trailer(error, STATUS_DETAILS_KEY))
    assert status.message == "the store went away"


async def test_a_stream_past_its_deadline_is_deadline_exceeded_while_its_reader_waits(
    served: Served,
) -> None:
    # The reader takes its time between items (a slow client downstream): the deadline ends
    # the call, and the reader learns it from the call, not by being cancelled itself.
    call = served.stub.GetBatchResults(_results("endless"), timeout=0.5)
    _read, error = await _read_until_error(call, pause=0.2)
    assert error.code() == grpc.StatusCode.DEADLINE_EXCEEDED
    await _handler_closed(served.servicer)


# The registry of in-process addresses.


def test_an_unknown_address_is_refused_with_a_clear_error() -> None:
    with pytest.raises(ValueError, match="no such service in this process"):
        in_process.channel("in-process:nothing/1")
    with pytest.raises(ValueError, match="no such service in this process"):
        in_process.unregister("in-process:nothing/1")
    with pytest.raises(ValueError, match="without '/'"):
        in_process.register("a/b", in_process.InProcessServer())
    with pytest.raises(ValueError, match="no such service in this process"):
        open_channel("in-process:nothing/1")


def test_an_unregistered_address_no_longer_opens() -> None:
    address = in_process.register(SERVICE, in_process.InProcessServer())
    assert address.startswith(f"in-process:{SERVICE}/")
    in_process.channel(address)
    in_process.unregister(address)
    with pytest.raises(ValueError, match=address):
        in_process.channel(address)
    with pytest.raises(ValueError, match=address):
        in_process.unregister(address)
