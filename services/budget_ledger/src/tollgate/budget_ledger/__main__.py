"""`python -m tollgate.budget_ledger [serve|migrate|wait-for-schema]`: run the service, migrate
its schema, or wait until someone else has (the chart's init container)."""

from __future__ import annotations

import argparse
import asyncio
import sys

import asyncpg

from tollgate.budget_ledger.migrate import MigrationError, apply_migrations, check_schema
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


async def _schema_ready(dsn: str, timeout: float) -> str:
    """ "" once the schema is complete, else why it is not after `timeout` seconds."""
    loop = asyncio.get_running_loop()
    give_up = loop.time() + timeout
    while True:
        try:
            await check_schema(dsn)
            return ""
        except (MigrationError, OSError, asyncpg.PostgresError) as exc:
            reason = str(exc) or type(exc).__name__
        if loop.time() >= give_up:
            return reason
        print(f"waiting for the ledger schema: {reason}", flush=True)
        await asyncio.sleep(2)


def _wait_for_schema(timeout: float) -> int:
    settings = Settings()
    if not settings.database_url:
        print("TOLLGATE_BUDGET_LEDGER_DATABASE_URL is not set", file=sys.stderr)
        return 2
    reason = asyncio.run(_schema_ready(settings.database_url, timeout))
    if reason:
        print(f"the ledger schema is not ready after {timeout:.0f} s: {reason}", file=sys.stderr)
        return 1
    print("schema is up to date")
    return 0


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m tollgate.budget_ledger")
    parser.add_argument(
        "command",
        nargs="?",
        default="serve",
        choices=["serve", "migrate", "wait-for-schema"],
        help="serve (default) runs the service; migrate applies pending schema migrations; "
        "wait-for-schema waits until they have been applied",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="wait-for-schema: seconds before giving up"
    )
    args = parser.parse_args(argv)
    if args.command == "migrate":
        return _migrate()
    if args.command == "wait-for-schema":
        return _wait_for_schema(args.timeout)
    run(_build)
    return 0


if __name__ == "__main__":
    sys.exit(main())
