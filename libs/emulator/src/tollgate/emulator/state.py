"""Everything one running emulator holds, wired together in one place."""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from typing import Any

from tollgate.emulator.batches import BatchStore
from tollgate.emulator.clock import Clock
from tollgate.emulator.config import EmulatorConfig
from tollgate.emulator.engine import Engine
from tollgate.emulator.errors import ApiError, error_body, new_request_id
from tollgate.emulator.faults import FaultInjector
from tollgate.emulator.prompt_cache import PromptCache
from tollgate.emulator.rate_limits import RateLimiter
from tollgate.emulator.stats import EmulatorStats
from tollgate.emulator.validation import validate_request


def api_key_scope(headers: Mapping[str, str]) -> str | None:
    """A short, stable id for the caller's credential; None when there is none."""
    credential = headers.get("x-api-key") or headers.get("authorization")
    if not credential:
        return None
    return hashlib.sha256(credential.encode()).hexdigest()[:16]


class EmulatorState:
    def __init__(self, config: EmulatorConfig, clock: Clock) -> None:
        self.config = config
        self.initial_config = config.to_dict()
        self.clock = clock
        self.stats = EmulatorStats(config.record_limit)
        self.cache = PromptCache(clock)
        self.faults = FaultInjector(config)
        self.rate_limits = RateLimiter(config, clock)
        self.engine = Engine(config, self.cache)
        self.batches = BatchStore(config, self.process_batch_entry)

    def process_batch_entry(self, params: Any, scope: str) -> dict[str, Any]:
        try:
            request = validate_request(params, self.config)
        except ApiError as error:
            body = error_body(error.error_type, error.message, new_request_id())
            return {"type": "errored", "error": body}
        completion = self.engine.complete(request, scope=scope, service_tier="batch")
        return {"type": "succeeded", "message": completion.message}

    def reset(self, *, restore_config: bool = False) -> None:
        """Forget history (stats, cached prefixes, batches, rate-limit buckets); optionally
        restore the config."""
        self.stats.reset()
        self.rate_limits.clear()
        self.cache.clear()
        self.batches.clear()
        if restore_config:
            self.config.assign(EmulatorConfig.from_dict(self.initial_config))
            self.faults.reseed()
