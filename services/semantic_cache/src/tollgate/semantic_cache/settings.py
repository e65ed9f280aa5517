"""Settings of the semantic cache service (environment variables TOLLGATE_SEMANTIC_CACHE_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_SEMANTIC_CACHE_", extra="ignore")

    port: int = 50054
