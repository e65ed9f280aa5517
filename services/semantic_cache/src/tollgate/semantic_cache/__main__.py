"""`python -m tollgate.semantic_cache`: run the semantic cache service."""

from __future__ import annotations

from tollgate.common.server import GrpcService, run
from tollgate.semantic_cache.service import build_service
from tollgate.semantic_cache.settings import Settings


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
