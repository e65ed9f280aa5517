"""Settings of the budget ledger service (environment variables TOLLGATE_BUDGET_LEDGER_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_BUDGET_LEDGER_", extra="ignore")

    port: int = 50055
    # postgresql://user:password@host:port/db. Unset: an embedded Postgres owned by this process
    # (started from the pgserver wheel, migrated at start-up), for local runs only.
    database_url: str = ""
    # Where the embedded Postgres keeps its files; empty: a fresh temporary directory.
    embedded_data_dir: str = ""
    # Apply pending migrations at start-up (safe with many replicas: an advisory lock serialises
    # them). Otherwise run `python -m tollgate.budget_ledger migrate` before rolling out.
    migrate_on_start: bool = False
    pool_min_size: int = Field(default=2, ge=1)
    pool_max_size: int = Field(default=10, ge=1)
    # Group commit: Reserve, Commit and Release calls that arrive while a transaction is in
    # flight are settled together in the next one (up to this many per transaction), by this
    # many concurrent transactions. Off: one transaction per call, as many as the pool allows.
    group_commit: bool = True
    group_commit_max_batch: int = Field(default=256, ge=1)
    group_commit_workers: int = Field(default=2, ge=1)
    # A statement that waits longer than this is cancelled and the call fails UNAVAILABLE.
    statement_timeout_seconds: float = Field(default=10.0, gt=0)
    # How long a hold lives when the request names no TTL, and the longest TTL allowed.
    default_hold_ttl_seconds: float = Field(default=300.0, gt=0)
    max_hold_ttl_seconds: float = Field(default=3600.0, gt=0)
    # How often each replica looks for expired holds, and how many it releases per transaction.
    sweep_interval_seconds: float = Field(default=5.0, gt=0)
    sweep_batch_size: int = Field(default=200, ge=1)
    # Alerts a StreamAlerts subscriber may fall behind by before its stream is closed.
    alert_subscriber_queue: int = Field(default=1000, ge=1)
    # Alert thresholds of a budget created without any.
    default_alert_thresholds_percent: list[int] = Field(default_factory=lambda: [50, 80, 100])

    @property
    def batching(self) -> tuple[int, int]:
        """(calls per transaction, concurrent transactions) of the ledger's group commit."""
        if self.group_commit:
            return self.group_commit_max_batch, self.group_commit_workers
        return 1, self.pool_max_size
