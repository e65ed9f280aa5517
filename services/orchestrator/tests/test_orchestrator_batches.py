"""Batches end to end against the emulator's Message Batches API, at the batch discount."""

from __future__ import annotations

import asyncio
from collections.abc import Callable

import grpc
import pytest

from tollgate.emulator.server import EmulatorServer
from tollgate.v1 import common_pb2, orchestrator_pb2, orchestrator_pb2_grpc

Stub = orchestrator_pb2_grpc.OrchestratorServiceStub
MakeSpec = Callable[..., orchestrator_pb2.GenerationSpec]


def _context(tenant: str) -> common_pb2.RequestContext:
    return common_pb2.RequestContext(tenant_id=tenant, request_id="batch-req")


async def _wait_until_ended(stub: Stub, tenant: str, batch_id: str) -> orchestrator_pb2.Batch:
    for _ in range(200):
        batch = (
            await stub.GetBatch(
                orchestrator_pb2.GetBatchRequest(context=_context(tenant), batch_id=batch_id),
                timeout=10,
            )
        ).batch
        if batch.status == orchestrator_pb2.BATCH_STATUS_ENDED:
            return batch
        await asyncio.sleep(0.05)
    raise AssertionError("the batch never ended")


async def test_a_batch_runs_end_to_end_and_is_priced_at_half(
    make_spec: MakeSpec, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    items = [
        orchestrator_pb2.BatchItem(
            custom_id="report-1",
            spec=make_spec(
                "Summarise September.",
                task=common_pb2.TASK_TYPE_REPORT,
                max_tokens=80,
                template_variables={"company": "Harbor Realty", "period": "monthly"},
            ),
        ),
        orchestrator_pb2.BatchItem(
            custom_id="lead-2", spec=make_spec("Is lead 2 serious?", max_tokens=40)
        ),
    ]
    created = (
        await orchestrator.CreateBatch(
            orchestrator_pb2.CreateBatchRequest(context=_context("tenant-a"), items=items),
            timeout=10,
        )
    ).batch
    assert created.id
    assert created.tenant_id == "tenant-a"
    assert created.status in (
        orchestrator_pb2.BATCH_STATUS_IN_PROGRESS,
        orchestrator_pb2.BATCH_STATUS_ENDED,
    )

    ended = await _wait_until_ended(orchestrator, "tenant-a", created.id)
    assert ended.counts.succeeded == 2
    assert ended.HasField("ended_at")

    results = {
        item.custom_id: item
        async for item in orchestrator.GetBatchResults(
            orchestrator_pb2.GetBatchResultsRequest(
                context=_context("tenant-a"), batch_id=created.id
            ),
            timeout=10,
        )
    }
    assert set(results) == {"report-1", "lead-2"}
    report = results["report-1"].result
    assert report.template_version == "report@1"
    assert report.response.content[0].text.text
    for item in results.values():
        usage = item.result.response.usage
        # Half of sonnet's 2 and 10 micro-dollars per token, rounded up per component.
        assert item.result.cost.input_micros == usage.input_tokens
        assert item.result.cost.output_micros == usage.output_tokens * 5
        assert item.result.cost.total_micros == usage.input_tokens + usage.output_tokens * 5
    # The batch went through the batches endpoint, not one live call per item.
    assert not [r for r in emulator.stats.requests if r.path == "/v1/messages"]


async def test_another_tenant_cannot_see_or_cancel_a_batch(
    make_spec: MakeSpec, emulator: EmulatorServer, orchestrator: Stub
) -> None:
    emulator.config.batch_processing_delay_s = 30
    created = (
        await orchestrator.CreateBatch(
            orchestrator_pb2.CreateBatchRequest(
                context=_context("tenant-a"),
                items=[orchestrator_pb2.BatchItem(custom_id="one", spec=make_spec())],
            ),
            timeout=10,
        )
    ).batch
    for call in (
        orchestrator.GetBatch(
            orchestrator_pb2.GetBatchRequest(context=_context("tenant-b"), batch_id=created.id)
        ),
        orchestrator.CancelBatch(
            orchestrator_pb2.CancelBatchRequest(context=_context("tenant-b"), batch_id=created.id)
        ),
    ):
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await call
        assert caught.value.code() == grpc.StatusCode.NOT_FOUND

    # Results of a batch still in progress are refused; its owner can cancel it.
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        async for _ in orchestrator.GetBatchResults(
            orchestrator_pb2.GetBatchResultsRequest(
                context=_context("tenant-a"), batch_id=created.id
            )
        ):
            pass
    assert caught.value.code() == grpc.StatusCode.FAILED_PRECONDITION
    cancelled = (
        await orchestrator.CancelBatch(
            orchestrator_pb2.CancelBatchRequest(context=_context("tenant-a"), batch_id=created.id)
        )
    ).batch
    assert cancelled.status in (
        orchestrator_pb2.BATCH_STATUS_CANCELING,
        orchestrator_pb2.BATCH_STATUS_ENDED,
    )


async def test_duplicate_custom_ids_are_refused(make_spec: MakeSpec, orchestrator: Stub) -> None:
    items = [orchestrator_pb2.BatchItem(custom_id="same", spec=make_spec()) for _ in range(2)]
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await orchestrator.CreateBatch(
            orchestrator_pb2.CreateBatchRequest(context=_context("tenant-a"), items=items)
        )
    assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT
    assert "twice" in (caught.value.details() or "")


async def _create(orchestrator: Stub, make_spec: MakeSpec, tenant: str) -> str:
    reply = await orchestrator.CreateBatch(
        orchestrator_pb2.CreateBatchRequest(
            context=_context(tenant),
            items=[orchestrator_pb2.BatchItem(custom_id="one", spec=make_spec())],
        ),
        timeout=10,
    )
    return reply.batch.id


async def _page(
    orchestrator: Stub, tenant: str, limit: int = 0, before_id: str = "", after_id: str = ""
) -> tuple[list[str], bool]:
    reply = await orchestrator.ListBatches(
        orchestrator_pb2.ListBatchesRequest(
            context=_context(tenant), limit=limit, before_id=before_id, after_id=after_id
        ),
        timeout=10,
    )
    return [batch.id for batch in reply.batches], reply.has_more


async def test_batches_are_listed_in_pages_both_ways(
    make_spec: MakeSpec, orchestrator: Stub
) -> None:
    created = [await _create(orchestrator, make_spec, "tenant-a") for _ in range(5)]
    other = await _create(orchestrator, make_spec, "tenant-b")
    newest_first = created[::-1]

    assert await _page(orchestrator, "tenant-a") == (newest_first, False)
    assert await _page(orchestrator, "tenant-a", 2) == (newest_first[:2], True)
    assert await _page(orchestrator, "tenant-a", 2, after_id=newest_first[1]) == (
        newest_first[2:4],
        True,
    )
    assert await _page(orchestrator, "tenant-a", 2, after_id=newest_first[3]) == (
        newest_first[4:],
        False,
    )
    # Backwards from the oldest: the page just newer than the cursor, still newest first.
    assert await _page(orchestrator, "tenant-a", 2, before_id=newest_first[4]) == (
        newest_first[2:4],
        True,
    )
    assert await _page(orchestrator, "tenant-a", 3, before_id=newest_first[2]) == (
        newest_first[:2],
        False,
    )
    assert await _page(orchestrator, "tenant-b") == ([other], False)

    refusals = {
        "both cursors": {"before_id": created[0], "after_id": created[1]},
        "limit too large": {"limit": 1001},
        "negative limit": {"limit": -1},
        "unknown cursor": {"after_id": "msgbatch_nope"},
        # Another tenant's batch is refused as if it did not exist.
        "another tenant's cursor": {"after_id": other},
    }
    for name, fields in refusals.items():
        with pytest.raises(grpc.aio.AioRpcError) as caught:
            await orchestrator.ListBatches(
                orchestrator_pb2.ListBatchesRequest(context=_context("tenant-a"), **fields)
            )
        assert caught.value.code() == grpc.StatusCode.INVALID_ARGUMENT, name
    with pytest.raises(grpc.aio.AioRpcError) as caught:
        await _page(orchestrator, "tenant-a", after_id="msgbatch_nope")
    with pytest.raises(grpc.aio.AioRpcError) as other_tenant:
        await _page(orchestrator, "tenant-a", after_id=other)
    assert (caught.value.details() or "").replace("msgbatch_nope", "X") == (
        other_tenant.value.details() or ""
    ).replace(other, "X")
