"""The budget ledger gRPC service.

Not built yet: it starts, reports SERVING and answers every call with UNIMPLEMENTED, so the suite
runs end to end without ever returning a made-up result.
"""

from __future__ import annotations

from tollgate.budget_ledger.settings import Settings
from tollgate.common.server import GrpcService, unimplemented_registration
from tollgate.v1 import budget_ledger_pb2, budget_ledger_pb2_grpc


async def build_service(settings: Settings) -> GrpcService:
    registration = unimplemented_registration(
        budget_ledger_pb2, budget_ledger_pb2_grpc, "BudgetLedgerService"
    )
    return GrpcService("budget-ledger", [registration])
