"""`python -m tollgate.budget_ledger`: run the budget ledger service."""

from __future__ import annotations

from tollgate.budget_ledger.service import build_service
from tollgate.budget_ledger.settings import Settings
from tollgate.common.server import GrpcService, run


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


if __name__ == "__main__":
    run(_build)
