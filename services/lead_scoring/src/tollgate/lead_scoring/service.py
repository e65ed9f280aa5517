"""The lead scoring gRPC service.

Not built yet: it starts, reports SERVING and answers every call with UNIMPLEMENTED, so the suite
runs end to end without ever returning a made-up result.
"""

from __future__ import annotations

from tollgate.common.server import GrpcService, unimplemented_registration
from tollgate.lead_scoring.settings import Settings
from tollgate.v1 import lead_scoring_pb2, lead_scoring_pb2_grpc


async def build_service(settings: Settings) -> GrpcService:
    registration = unimplemented_registration(
        lead_scoring_pb2, lead_scoring_pb2_grpc, "LeadScoringService"
    )
    return GrpcService("lead-scoring", [registration])
