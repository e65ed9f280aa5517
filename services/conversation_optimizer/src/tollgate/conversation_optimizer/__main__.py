"""`python -m tollgate.conversation_optimizer`: run the conversation optimizer service."""

from __future__ import annotations

from tollgate.common.server import GrpcService, run
from tollgate.conversation_optimizer.service import build_service
from tollgate.conversation_optimizer.settings import Settings


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
