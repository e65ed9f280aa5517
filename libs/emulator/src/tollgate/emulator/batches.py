"""The Message Batches API: batch objects, background processing and results.

Each request of a batch is answered exactly like a ``/v1/messages`` call (same
engine, same prompt cache, billed at the "batch" service tier); per-request
validation failures become ``errored`` results rather than failing the batch,
as in the real API. Processing starts after ``batch_processing_delay_s`` in a
background task, so clients must poll just as they would in production.
"""

from __future__ import annotations

import asyncio
import contextlib
import json
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any

from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.errors import ApiError, invalid_request
from tollgate.emulator.ids import random_id

# Answers one batch entry's params for a scope (API key): a "succeeded" or
# "errored" result object.
Processor = Callable[[Any, str], dict[str, Any]]

MAX_BATCH_REQUESTS = 100_000
_CUSTOM_ID = re.compile(r"^[a-zA-Z0-9_-]{1,64}$")
_COUNT_KEYS = ("processing", "succeeded", "errored", "canceled", "expired")


def rfc3339(moment: datetime) -> str:
    return moment.isoformat(timespec="microseconds").replace("+00:00", "Z")


@dataclass
class Batch:
    id: str
    scope: str
    entries: list[tuple[str, Any]]
    created_at: datetime
    processing_status: str = "in_progress"
    ended_at: datetime | None = None
    cancel_initiated_at: datetime | None = None
    results: list[dict[str, Any]] = field(default_factory=list)
    counts: dict[str, int] = field(default_factory=dict)
    cancel_requested: asyncio.Event = field(default_factory=asyncio.Event)

    def __post_init__(self) -> None:
        self.counts = dict.fromkeys(_COUNT_KEYS, 0)
        self.counts["processing"] = len(self.entries)

    def to_dict(self, base_url: str) -> dict[str, Any]:
        ended = self.processing_status == "ended"
        return {
            "id": self.id,
            "type": "message_batch",
            "processing_status": self.processing_status,
            "request_counts": dict(self.counts),
            "ended_at": rfc3339(self.ended_at) if self.ended_at else None,
            "created_at": rfc3339(self.created_at),
            "expires_at": rfc3339(self.created_at + timedelta(hours=24)),
            "archived_at": None,
            "cancel_initiated_at": rfc3339(self.cancel_initiated_at)
            if self.cancel_initiated_at
            else None,
            "results_url": f"{base_url}/v1/messages/batches/{self.id}/results" if ended else None,
        }


def _parse_entries(body: Any) -> list[tuple[str, Any]]:
    if not isinstance(body, Mapping):
        raise invalid_request("The request body must be a JSON object")
    for key in body:
        if key != "requests":
            raise invalid_request(f"{key}: Extra inputs are not permitted")
    requests = body.get("requests")
    if not isinstance(requests, list):
        raise invalid_request("requests: Field required")
    if not requests:
        raise invalid_request("requests: List should have at least 1 item after validation")
    if len(requests) > MAX_BATCH_REQUESTS:
        raise invalid_request(f"requests: at most {MAX_BATCH_REQUESTS} requests are allowed")
    entries: list[tuple[str, Any]] = []
    for i, item in enumerate(requests):
        if not isinstance(item, Mapping):
            raise invalid_request(f"requests.{i}: Input should be a valid dictionary")
        custom_id = item.get("custom_id")
        if not isinstance(custom_id, str) or not _CUSTOM_ID.match(custom_id):
            raise invalid_request(
                f"requests.{i}.custom_id: String should match pattern '^[a-zA-Z0-9_-]{{1,64}}$'"
            )
        if not isinstance(item.get("params"), Mapping):
            raise invalid_request(f"requests.{i}.params: Field required")
        if item["params"].get("stream"):
            raise invalid_request(f"requests.{i}.params.stream: streaming is not supported")
        entries.append((custom_id, item["params"]))
    ids = [custom_id for custom_id, _ in entries]
    if len(set(ids)) != len(ids):
        raise invalid_request("requests: custom_id values must be unique within a batch")
    return entries


class BatchStore:
    def __init__(self, config: EmulatorConfig, process: Processor) -> None:
        self._config = config
        self._process = process
        self._batches: dict[str, Batch] = {}
        self._tasks: set[asyncio.Task[None]] = set()

    def create(self, body: Any, scope: str) -> Batch:
        batch = Batch(
            id=random_id("msgbatch_01"),
            scope=scope,
            entries=_parse_entries(body),
            created_at=datetime.now(UTC),
        )
        self._batches[batch.id] = batch
        task = asyncio.get_running_loop().create_task(self._run(batch))
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)
        return batch

    def get(self, batch_id: str) -> Batch:
        batch = self._batches.get(batch_id)
        if batch is None:
            raise ApiError("not_found_error", f"message_batch: {batch_id} not found")
        return batch

    def cancel(self, batch_id: str) -> Batch:
        batch = self.get(batch_id)
        if batch.processing_status == "in_progress":
            batch.processing_status = "canceling"
            batch.cancel_initiated_at = datetime.now(UTC)
            batch.cancel_requested.set()
        return batch

    def delete(self, batch_id: str) -> None:
        batch = self.get(batch_id)
        if batch.processing_status != "ended":
            raise invalid_request(
                f"Batch {batch_id} cannot be deleted while processing; cancel it first."
            )
        del self._batches[batch_id]

    def results_jsonl(self, batch_id: str) -> bytes:
        batch = self.get(batch_id)
        if batch.processing_status != "ended":
            raise invalid_request(f"Batch {batch_id} has not finished processing.")
        return b"".join(json.dumps(line).encode() + b"\n" for line in batch.results)

    def page(self, limit: int, after_id: str | None, before_id: str | None) -> list[Batch]:
        """Batches newest first, sliced by cursor like the real list endpoint."""
        ordered = list(reversed(self._batches.values()))
        ids = [batch.id for batch in ordered]
        if after_id is not None:
            ordered = ordered[ids.index(after_id) + 1 :] if after_id in ids else []
            return ordered[:limit]
        if before_id is not None:
            ordered = ordered[: ids.index(before_id)] if before_id in ids else []
            return ordered[-limit:]
        return ordered[:limit]

    def has_more(self, limit: int, after_id: str | None, before_id: str | None) -> bool:
        return len(self.page(limit + 1, after_id, before_id)) > limit

    def clear(self) -> None:
        self._batches.clear()

    async def close(self) -> None:
        for task in list(self._tasks):
            task.cancel()
        for task in list(self._tasks):
            with contextlib.suppress(asyncio.CancelledError):
                await task

    async def _run(self, batch: Batch) -> None:
        delay = self._config.batch_processing_delay_s
        if delay > 0:
            with contextlib.suppress(TimeoutError):
                await asyncio.wait_for(batch.cancel_requested.wait(), timeout=delay)
        for custom_id, params in batch.entries:
            if batch.cancel_requested.is_set():
                result: dict[str, Any] = {"type": "canceled"}
            else:
                result = self._process(params, batch.scope)
            batch.results.append({"custom_id": custom_id, "result": result})
            batch.counts["processing"] -= 1
            batch.counts[result["type"]] += 1
            # Let other requests run between entries of a large batch.
            await asyncio.sleep(0)
        batch.processing_status = "ended"
        batch.ended_at = datetime.now(UTC)
