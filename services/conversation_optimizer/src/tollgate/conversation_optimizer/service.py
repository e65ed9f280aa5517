"""The conversation optimizer gRPC service.

Not built yet: it starts, reports SERVING and answers every call with UNIMPLEMENTED, so the suite
runs end to end without ever returning a made-up result.
"""

from __future__ import annotations

from tollgate.common.server import GrpcService, unimplemented_registration
from tollgate.conversation_optimizer.settings import Settings
from tollgate.v1 import conversation_optimizer_pb2, conversation_optimizer_pb2_grpc


async def build_service(settings: Settings) -> GrpcService:
    registration = unimplemented_registration(
        conversation_optimizer_pb2, conversation_optimizer_pb2_grpc, "ConversationOptimizerService"
    )
    return GrpcService("conversation-optimizer", [registration])
