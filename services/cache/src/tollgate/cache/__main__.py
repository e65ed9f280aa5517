"""`python -m tollgate.cache`: run the cache service."""

from __future__ import annotations

from tollgate.cache.service import build_service
from tollgate.cache.settings import Settings
from tollgate.common.server import GrpcService, run


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
