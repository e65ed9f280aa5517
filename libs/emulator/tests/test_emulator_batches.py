from __future__ import annotations

import asyncio
import time
from typing import Any

import anthropic
import pytest
from anthropic.types.messages import MessageBatch

from tollgate.emulator import EmulatorServer

SONNET = "claude-sonnet-4-6"


def params(question: str, **extra: Any) -> dict[str, Any]:
    return {
        "model": SONNET,
        "max_tokens": 60,
        "messages": [{"role": "user", "content": question}],
        **extra,
    }


async def wait_until_ended(
    client: anthropic.AsyncAnthropic, batch_id: str, timeout: float = 3.0
) -> MessageBatch:
    deadline = time.monotonic() + timeout
    while True:
        batch = await client.messages.batches.retrieve(batch_id)
        if batch.processing_status == "ended" or time.monotonic() > deadline:
            return batch
        await asyncio.sleep(0.01)


async def test_batch_end_to_end_through_sdk(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    created = await client.messages.batches.create(
        requests=[
            {"custom_id": "lead-1", "params": params("Score the Riverside lead")},
            {"custom_id": "lead-2", "params": params("Score the Lakeview lead")},
            {
                "custom_id": "broken",
                "params": {"model": SONNET, "messages": [{"role": "user", "content": "x"}]},
            },
        ]
    )
    assert created.id.startswith("msgbatch_")
    assert created.type == "message_batch"
    assert created.processing_status == "in_progress"
    assert created.results_url is None
    assert created.request_counts.processing == 3
    assert created.expires_at > created.created_at

    ended = await wait_until_ended(client, created.id)
    assert ended.processing_status == "ended"
    assert ended.ended_at is not None
    assert ended.results_url == f"{server.base_url}/v1/messages/batches/{created.id}/results"
    counts = ended.request_counts
    assert (counts.processing, counts.succeeded, counts.errored) == (0, 2, 1)

    results = {
        entry.custom_id: entry.result
        async for entry in await client.messages.batches.results(created.id)
    }
    assert set(results) == {"lead-1", "lead-2", "broken"}
    succeeded = results["lead-1"]
    assert succeeded.type == "succeeded"
    direct = await client.messages.create(**params("Score the Riverside lead"))
    assert succeeded.message.content == direct.content
    assert succeeded.message.usage.service_tier == "batch"
    broken = results["broken"]
    assert broken.type == "errored"
    assert broken.error.error.type == "invalid_request_error"
    assert "max_tokens" in broken.error.error.message


async def test_cancel_before_processing(
    server: EmulatorServer, client: anthropic.AsyncAnthropic
) -> None:
    server.config.batch_processing_delay_s = 30
    created = await client.messages.batches.create(
        requests=[{"custom_id": f"r{i}", "params": params(f"Lead {i}")} for i in range(3)]
    )
    canceling = await client.messages.batches.cancel(created.id)
    assert canceling.processing_status == "canceling"
    assert canceling.cancel_initiated_at is not None
    ended = await wait_until_ended(client, created.id)
    assert ended.processing_status == "ended"
    assert ended.request_counts.canceled == 3
    kinds = [entry.result.type async for entry in await client.messages.batches.results(created.id)]
    assert kinds == ["canceled"] * 3


async def test_list_pages_newest_first(client: anthropic.AsyncAnthropic) -> None:
    ids = [
        (
            await client.messages.batches.create(
                requests=[{"custom_id": "a", "params": params("q")}]
            )
        ).id
        for _ in range(3)
    ]
    page = await client.messages.batches.list(limit=2)
    assert [batch.id for batch in page.data] == ids[::-1][:2]
    assert page.has_more is True
    every = [batch.id async for batch in client.messages.batches.list(limit=2)]
    assert every == ids[::-1]


async def test_invalid_batch_and_unknown_id(client: anthropic.AsyncAnthropic) -> None:
    with pytest.raises(anthropic.BadRequestError) as empty:
        await client.messages.batches.create(requests=[])
    assert empty.value.status_code == 400
    with pytest.raises(anthropic.NotFoundError) as missing:
        await client.messages.batches.retrieve("msgbatch_missing")
    assert missing.value.status_code == 404
