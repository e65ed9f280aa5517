"""`python -m tollgate.lead_scoring`: run the lead scoring service."""

from __future__ import annotations

from tollgate.common.server import GrpcService, run
from tollgate.lead_scoring.service import build_service
from tollgate.lead_scoring.settings import Settings


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
