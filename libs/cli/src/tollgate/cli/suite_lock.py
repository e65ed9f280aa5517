"""One local suite per resource: a second `tollgate run` refuses instead of sharing ports.

Two suites on the same ports each start seven services; half the binds fail or, worse, succeed
with SO_REUSEPORT and split traffic between suites with different API keys. The lock is an
`flock` on a small file: the kernel releases it when its holder exits, however it exits, so a
crashed run never leaves a stale lock. Ports are also probed, because something that is not
Tollgate may hold them.
"""

from __future__ import annotations

import contextlib
import errno
import fcntl
import json
import os
import socket
import sys
import time
from collections.abc import Iterator
from pathlib import Path

from tollgate.cli.suite_failure import SuiteError
from tollgate.common.stores import short_temp_root


def lock_path(name: str) -> Path:
    """Machine-wide for one user: ports are machine-wide, and so is the temp folder."""
    return Path(short_temp_root()) / f"tollgate-{os.getuid()}-{name}.lock"


def _holder(path: Path) -> str:
    try:
        owner = json.loads(path.read_text())
        started = time.strftime("%H:%M:%S", time.localtime(float(owner["started"])))
        return f"pid {owner['pid']}, started {started}, in {owner['cwd']}"
    except (OSError, ValueError, KeyError, TypeError):
        return "its process details are unreadable"


@contextlib.contextmanager
def exclusive(name: str, what: str, hint: str) -> Iterator[None]:
    """Hold the lock `name` for the block, or raise SuiteError saying who holds it."""
    path = lock_path(name)
    handle = path.open("a+")
    try:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            raise SuiteError(
                f"another {what} is already running ({_holder(path)}).",
                cause=[],
                hint=hint,
            ) from None
        handle.truncate(0)
        handle.write(
            json.dumps(
                {"pid": os.getpid(), "started": time.time(), "cwd": os.getcwd(), "argv": sys.argv}
            )
        )
        handle.flush()
        yield
    finally:
        handle.close()


def ports_in_use(ports: dict[str, int], host: str = "127.0.0.1") -> list[tuple[str, int]]:
    """The (service, port) pairs something else already listens on."""
    busy = []
    for name, port in ports.items():
        with socket.socket() as sock:
            # SO_REUSEADDR so a port in TIME_WAIT after an earlier run does not count as taken;
            # no SO_REUSEPORT, so any listener (gRPC sets SO_REUSEPORT on its own) does.
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
            try:
                sock.bind((host, port))
            except OSError as error:
                if error.errno != errno.EADDRINUSE:
                    raise
                busy.append((name, port))
    return busy
