"""The budget ledger gRPC service: wires the database, ledger, sweeper and alert stream."""

from __future__ import annotations

import logging

from tollgate.budget_ledger.agent_profiles import AgentProfileServicer, AgentProfileStore
from tollgate.budget_ledger.alert_stream import AlertHub
from tollgate.budget_ledger.alerts import AlertRaiser
from tollgate.budget_ledger.api_keys import ApiKeyStore
from tollgate.budget_ledger.budgets import BudgetAdmin
from tollgate.budget_ledger.database import Database
from tollgate.budget_ledger.ledger import Ledger
from tollgate.budget_ledger.migrate import apply_migrations, check_schema
from tollgate.budget_ledger.servicer import BudgetLedgerServicer
from tollgate.budget_ledger.settings import Settings
from tollgate.budget_ledger.sweeper import Sweeper
from tollgate.budget_ledger.usage import UsageBook
from tollgate.common.server import GrpcService, Registration
from tollgate.v1 import (
    agent_profiles_pb2,
    agent_profiles_pb2_grpc,
    budget_ledger_pb2,
    budget_ledger_pb2_grpc,
)

log = logging.getLogger("tollgate.budget_ledger")

SERVICE_NAME = budget_ledger_pb2.DESCRIPTOR.services_by_name["BudgetLedgerService"].full_name
PROFILES_SERVICE_NAME = agent_profiles_pb2.DESCRIPTOR.services_by_name[
    "AgentProfileService"
].full_name


async def build_service(settings: Settings) -> GrpcService:
    database = Database(settings)
    raiser = AlertRaiser()
    max_batch, workers = settings.batching
    ledger = Ledger(database, raiser, max_batch=max_batch, workers=workers)
    admin = BudgetAdmin(database, raiser)
    usage = UsageBook(database)
    sweeper = Sweeper(database, settings.sweep_interval_seconds, settings.sweep_batch_size, raiser)
    hub = AlertHub(settings.alert_subscriber_queue)

    async def open_database() -> None:
        dsn = database.resolve_dsn()
        if settings.migrate_on_start or database.embedded:
            applied = await apply_migrations(dsn)
            if applied:
                log.info("schema migrated", extra={"versions": applied})
        else:
            await check_schema(dsn)
        await database.open()
        await hub.start(dsn)
        await sweeper.start()

    async def close_database() -> None:
        await ledger.stop()
        await sweeper.stop()
        await hub.stop()
        await database.close()

    keys = ApiKeyStore(database, admin)
    servicer = BudgetLedgerServicer(settings, ledger, admin, usage, hub, keys)
    registration = Registration(
        SERVICE_NAME, budget_ledger_pb2_grpc.add_BudgetLedgerServiceServicer_to_server, servicer
    )
    # Agent profiles share the ledger's database (see agent_profiles.py for why).
    profiles = Registration(
        PROFILES_SERVICE_NAME,
        agent_profiles_pb2_grpc.add_AgentProfileServiceServicer_to_server,
        AgentProfileServicer(AgentProfileStore(database)),
    )
    return GrpcService(
        "budget-ledger",
        [registration, profiles],
        on_start=[open_database],
        on_stop=[close_database],
    )
