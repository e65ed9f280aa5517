"""`python -m tollgate.gateway`: run the gateway."""

from __future__ import annotations

from tollgate.common.server import GrpcService, run
from tollgate.gateway.service import build_service
from tollgate.gateway.settings import Settings


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
