"""Settings of the conversation optimizer (env: TOLLGATE_CONVERSATION_OPTIMIZER_*)."""

from __future__ import annotations

from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_CONVERSATION_OPTIMIZER_", extra="ignore")

    port: int = 50052
