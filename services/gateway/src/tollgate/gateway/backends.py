"""Channels and stubs to the services the gateway composes."""

from __future__ import annotations

from dataclasses import dataclass

import grpc

from tollgate.common.channels import open_channel
from tollgate.gateway.settings import Settings
from tollgate.v1 import orchestrator_pb2_grpc


@dataclass
class Backends:
    orchestrator: orchestrator_pb2_grpc.OrchestratorServiceStub
    channels: list[grpc.aio.Channel]

    @classmethod
    def connect(cls, settings: Settings) -> Backends:
        orchestrator_channel = open_channel(settings.orchestrator_addr, settings.max_message_bytes)
        return cls(
            orchestrator=orchestrator_pb2_grpc.OrchestratorServiceStub(orchestrator_channel),
            channels=[orchestrator_channel],
        )

    async def close(self) -> None:
        for channel in self.channels:
            await channel.close()
