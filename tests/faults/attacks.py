"""Attacks as faults (issue 17): another tenant misbehaves while the measured tenant's load runs.

- **bad reports**: an attacker tenant sends usage reports with a malformed timestamp in a loop.
  Before the gateway validated timestamps, the ledger's INTERNAL answers opened the gateway's one
  ledger breaker and every tenant's completions failed (113 OK turned into 2 OK and 123
  UNAVAILABLE in 15 s).
- **shared request ids**: waves of 50 concurrent completions sharing one request id.
- **memory before auth**: waves of 60 concurrent 7.9 MB completions without an API key.
"""

from __future__ import annotations

import asyncio
import contextlib
import sys
from collections.abc import Awaitable, Callable

import grpc
from google.protobuf import timestamp_pb2

from tollgate.client import TollgateClient
from tollgate.v1 import gateway_pb2, gateway_pb2_grpc

BAD_REPORTS = "attack: malformed usage reports"
SHARED_IDS = "attack: 50 concurrent requests sharing a request id"
MEMORY = "attack: 60 x 7.9 MB without a key"
ATTACK_NAMES = (BAD_REPORTS, SHARED_IDS, MEMORY)
ATTACKER_TENANT = "attacker"
COMPLETE = "/tollgate.v1.GatewayService/Complete"
MIB = 1024 * 1024


def _question(text: str, request_id: str = "") -> gateway_pb2.CompleteRequest:
    completion = TollgateClient.completion(
        model="claude-haiku-5-5",
        max_tokens=100,
        messages=[{"role": "user", "content": text}],
        request_id=request_id,
    )
    return gateway_pb2.CompleteRequest(completion=completion)


class Attack:
    """An attacker loop started by `inject` and stopped by `heal` (the Fault interface)."""

    def __init__(self, run: Callable[[asyncio.Event], Awaitable[None]]) -> None:
        self._run = run
        self._stop = asyncio.Event()
        self._task: asyncio.Task[None] | None = None

    async def inject(self) -> None:
        self._stop.clear()
        self._task = asyncio.create_task(self._run(self._stop))

    async def heal(self) -> None:
        self._stop.set()
        if self._task is not None:
            with contextlib.suppress(Exception):
                await self._task


def bad_reports(address: str, attacker_key: str) -> Attack:
    metadata = (("authorization", f"Bearer {attacker_key}"),)
    report = gateway_pb2.GetUsageReportRequest()
    getattr(report, "from").CopyFrom(timestamp_pb2.Timestamp(seconds=0, nanos=-1))

    async def run(stop: asyncio.Event) -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = gateway_pb2_grpc.GatewayServiceStub(channel)
            while not stop.is_set():
                calls = [stub.GetUsageReport(report, metadata=metadata) for _ in range(20)]
                await asyncio.gather(*calls, return_exceptions=True)

    return Attack(run)


def shared_request_ids(address: str, attacker_key: str) -> Attack:
    metadata = (("authorization", f"Bearer {attacker_key}"),)

    async def run(stop: asyncio.Event) -> None:
        async with grpc.aio.insecure_channel(address) as channel:
            stub = gateway_pb2_grpc.GatewayServiceStub(channel)
            wave = 0
            while not stop.is_set():
                wave += 1
                request_id = f"req-attack-{wave}"
                calls = [
                    stub.Complete(
                        _question(f"Attack {wave}-{i}", request_id), metadata=metadata, timeout=15
                    )
                    for i in range(50)
                ]
                await asyncio.gather(*calls, return_exceptions=True)

    return Attack(run)


async def _flood(address: str) -> None:
    """Waves of 60 concurrent 7.9 MB completions without a key, until the process is stopped."""
    payload = _question("Tell me everything about the listing. " * 207_000).SerializeToString()
    options = [("grpc.max_send_message_length", 16 * MIB)]
    async with grpc.aio.insecure_channel(address, options=options) as channel:
        complete = channel.unary_unary(COMPLETE)
        while True:
            await asyncio.gather(
                *(complete(payload, timeout=30) for _ in range(60)), return_exceptions=True
            )


class ProcessAttack:
    """An attacker in a process of its own: serialising and sending 474 MB per wave would
    otherwise stall the event loop the measured load (and the gateway) run on, and the figure
    would measure the attacker's client, not the gateway."""

    def __init__(self, *args: str) -> None:
        self._args = args
        self._process: asyncio.subprocess.Process | None = None

    async def inject(self) -> None:
        self._process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "tests.faults.attacks",
            *self._args,
            stdout=asyncio.subprocess.DEVNULL,
            stderr=asyncio.subprocess.DEVNULL,
        )

    async def heal(self) -> None:
        if self._process is not None and self._process.returncode is None:
            self._process.terminate()
            await self._process.wait()


def memory_flood(address: str) -> ProcessAttack:
    return ProcessAttack("memory", address)


if __name__ == "__main__":
    if sys.argv[1:2] == ["memory"]:
        asyncio.run(_flood(sys.argv[2]))
