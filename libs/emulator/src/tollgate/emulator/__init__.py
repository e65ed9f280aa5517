"""Anthropic Messages API emulator: the real HTTP wire format, deterministic answers.

Start one in-process with ``EmulatorServer`` or from a shell with
``python -m tollgate.emulator``; steer it through ``EmulatorConfig`` or the
``/_emulator`` control API.
"""

from tollgate.emulator.clock import Clock, ManualClock
from tollgate.emulator.config import (
    EmulatorConfig,
    FaultKind,
    FaultRates,
    LatencyConfig,
    RateLimitConfig,
    ScriptedFault,
)
from tollgate.emulator.server import EmulatorServer
from tollgate.emulator.stats import EmulatorStats, RequestRecord
from tollgate.emulator.tokens import count_request_tokens, count_text_tokens, tokenize

__all__ = [
    "Clock",
    "EmulatorConfig",
    "EmulatorServer",
    "EmulatorStats",
    "FaultKind",
    "FaultRates",
    "LatencyConfig",
    "ManualClock",
    "RateLimitConfig",
    "RequestRecord",
    "ScriptedFault",
    "count_request_tokens",
    "count_text_tokens",
    "tokenize",
]
