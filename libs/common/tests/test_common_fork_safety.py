"""Processes started while gRPC runs: the embedded Postgres's helpers (run as root, pgserver runs
initdb and pg_ctl as another user, so Python forks instead of spawning) are started by test
processes and by the `tollgate` command while their gRPC threads poll. With gRPC's fork
handlers on, such a child could die of a segmentation fault before it reached exec, or take the
forking process with it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import subprocess

import grpc
from grpc import aio

FORKS_PER_THREAD = 150


def _fork_and_exec_repeatedly() -> list[int]:
    # A user given (even our own) makes Python fork() rather than vfork(), as pgserver's does.
    return [
        subprocess.run(["/bin/true"], user=os.getuid(), check=False).returncode
        for _ in range(FORKS_PER_THREAD)
    ]


async def test_children_forked_while_grpc_calls_are_in_flight_reach_exec() -> None:
    server = aio.server()
    port = server.add_insecure_port("127.0.0.1:0")
    await server.start()
    channel = aio.insecure_channel(f"127.0.0.1:{port}")
    call = channel.unary_unary("/tollgate.test.Nothing/Here")
    stop = asyncio.Event()

    async def keep_calling() -> None:
        while not stop.is_set():
            # UNIMPLEMENTED: the point is gRPC's threads being busy.
            with contextlib.suppress(grpc.RpcError):
                await call(b"", timeout=1)

    callers = [asyncio.ensure_future(keep_calling()) for _ in range(8)]
    try:
        codes = await asyncio.gather(
            *(asyncio.to_thread(_fork_and_exec_repeatedly) for _ in range(2))
        )
    finally:
        stop.set()
        await asyncio.gather(*callers)
        await channel.close()
        await server.stop(None)
    returned = [code for each in codes for code in each]
    assert returned == [0] * len(returned), sorted(set(returned))
