"""Settings of the lead scoring service (environment variables TOLLGATE_LEAD_SCORING_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_LEAD_SCORING_", extra="ignore")

    port: int = 50057
