"""Settings of the conversation optimizer (env: TOLLGATE_CONVERSATION_OPTIMIZER_*).

Policies are JSON, e.g.
    TOLLGATE_CONVERSATION_OPTIMIZER_DEFAULT_POLICY='{"keep_last_turns": 4, "target_tokens": 6000}'
    TOLLGATE_CONVERSATION_OPTIMIZER_TASK_POLICIES='{"lead_analysis": {"compressed_chunks": 3}}'
Each task's policy is the default policy with that task's overrides; setting TASK_POLICIES
replaces the built-in overrides as a whole.
"""

from __future__ import annotations

from typing import Any

from pydantic import Field, SecretStr
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings
from tollgate.conversation_optimizer.policy import DEFAULT_TASK_OVERRIDES, Policy


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_CONVERSATION_OPTIMIZER_", extra="ignore")

    port: int = 50052

    # Exact counts through the Anthropic API's count_tokens; empty: estimates only.
    anthropic_api_key: SecretStr = SecretStr("")
    # Empty: the real Anthropic API.
    anthropic_base_url: str = ""
    # Model counted for when a request leaves its model to the orchestrator.
    count_tokens_model: str = "claude-sonnet-4-6"
    count_tokens_timeout_seconds: float = Field(default=5.0, gt=0)
    count_cache_entries: int = Field(default=10_000, ge=1)

    # Orchestrator for the `summarize` strategy (host:port); empty: the strategy is skipped.
    orchestrator_address: str = ""
    summary_model: str = "claude-haiku-4-5"
    # Summaries that take longer are skipped for this request (the optimization still answers).
    summary_timeout_seconds: float = Field(default=2.0, gt=0)
    summary_cache_entries: int = Field(default=4_096, ge=1)

    default_policy: Policy = Field(default_factory=Policy)
    task_policies: dict[str, dict[str, Any]] = Field(
        default_factory=lambda: {k: dict(v) for k, v in DEFAULT_TASK_OVERRIDES.items()}
    )
