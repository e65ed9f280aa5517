"""Settings of the budget ledger service (environment variables TOLLGATE_BUDGET_LEDGER_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_BUDGET_LEDGER_", extra="ignore")

    port: int = 50055
