"""`python -m tollgate.orchestrator`: run the orchestrator service."""

from __future__ import annotations

from tollgate.common.server import GrpcService, run
from tollgate.orchestrator.service import build_service
from tollgate.orchestrator.settings import Settings


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
