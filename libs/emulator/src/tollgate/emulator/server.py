"""Running the emulator inside the caller's event loop.

Tests start one per test on a free port (``port=0``) and point the real SDK at
``base_url``; ``config`` stays live, so a test can switch faults or latency on
between calls without restarting anything.
"""

from __future__ import annotations

from types import TracebackType

from aiohttp import web

from tollgate.emulator.app import build_app
from tollgate.emulator.clock import Clock
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.state import EmulatorState
from tollgate.emulator.stats import EmulatorStats

# Streams still open at shutdown are cut after this long rather than awaited.
SHUTDOWN_GRACE_SECONDS = 0.5


class EmulatorServer:
    """An Anthropic API emulator listening on ``host:port`` (0 picks a free port)."""

    def __init__(
        self,
        config: EmulatorConfig | None = None,
        *,
        host: str = "127.0.0.1",
        port: int = 0,
        clock: Clock | None = None,
    ) -> None:
        self.config = config if config is not None else EmulatorConfig()
        self.clock = clock if clock is not None else Clock()
        self.state = EmulatorState(self.config, self.clock)
        self.host = host
        self._requested_port = port
        self._port: int | None = None
        self._runner: web.AppRunner | None = None

    @property
    def stats(self) -> EmulatorStats:
        return self.state.stats

    @property
    def port(self) -> int:
        if self._port is None:
            raise RuntimeError("the emulator is not running")
        return self._port

    @property
    def base_url(self) -> str:
        host = f"[{self.host}]" if ":" in self.host else self.host
        return f"http://{host}:{self.port}"

    def reset(self, *, restore_config: bool = False) -> None:
        self.state.reset(restore_config=restore_config)

    async def start(self) -> None:
        if self._runner is not None:
            raise RuntimeError("the emulator is already running")
        runner = web.AppRunner(
            build_app(self.state), access_log=None, shutdown_timeout=SHUTDOWN_GRACE_SECONDS
        )
        await runner.setup()
        try:
            await web.TCPSite(runner, self.host, self._requested_port).start()
        except BaseException:
            await runner.cleanup()
            raise
        self._runner = runner
        self._port = int(runner.addresses[0][1])

    async def stop(self) -> None:
        runner, self._runner = self._runner, None
        if runner is not None:
            await runner.cleanup()
        self._port = None

    async def __aenter__(self) -> EmulatorServer:
        await self.start()
        return self

    async def __aexit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        await self.stop()
