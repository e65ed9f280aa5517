"""Orchestrator settings (environment variables TOLLGATE_ORCHESTRATOR_*, plus ANTHROPIC_API_KEY)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_ORCHESTRATOR_", extra="ignore")

    port: int = 50056
    anthropic_api_key: str = Field(
        default="",
        validation_alias=AliasChoices(
            "TOLLGATE_ORCHESTRATOR_ANTHROPIC_API_KEY", "ANTHROPIC_API_KEY"
        ),
    )
    # Empty: the real Anthropic API. Tests, the demo and benchmarks point this at the emulator.
    anthropic_base_url: str = ""
    # Empty: the price table shipped with Tollgate.
    prices_file: str = ""
    default_model: str = "claude-sonnet-5-5"
    # Task name (chat, lead_analysis, report, script, intervention, classification) → model.
    task_models: dict[str, str] = Field(
        default_factory=lambda: {"classification": "claude-haiku-5-5"}
    )
    # Upper bound on one upstream call when the caller set no deadline.
    request_timeout_seconds: float = Field(default=120.0, gt=0)
