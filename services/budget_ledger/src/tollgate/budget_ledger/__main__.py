"""`python -m tollgate.budget_ledger [serve|migrate]`: run the service, or migrate its schema."""

from __future__ import annotations

import argparse
import asyncio
import sys

from tollgate.budget_ledger.migrate import MigrationError, apply_migrations
from tollgate.budget_ledger.service import build_service
from tollgate.budget_ledger.settings import Settings
from tollgate.common.logs import configure_logging
from tollgate.common.server import GrpcService, run


async def _build() -> tuple[GrpcService, Settings]:
    settings = Settings()
    return await build_service(settings), settings


def _migrate() -> int:
    settings = Settings()
    configure_logging("budget-ledger", settings.log_level)
    if not settings.database_url:
        print(
            "TOLLGATE_BUDGET_LEDGER_DATABASE_URL is not set: there is no database to migrate "
            "(an embedded one is migrated when the service starts).",
            file=sys.stderr,
        )
        return 2
    try:
        applied = asyncio.run(apply_migrations(settings.database_url))
    except MigrationError as exc:
        print(f"migration refused: {exc}", file=sys.stderr)
        return 1
    print(f"applied migrations {applied}" if applied else "schema is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tollgate.budget_ledger")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate"],
        help="serve (default) runs the service; migrate applies pending schema migrations",
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return _migrate()
    run(_build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
