"""Gateway settings (environment variables TOLLGATE_GATEWAY_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_GATEWAY_", extra="ignore")

    port: int = 50051
    # YAML of hashed API keys (see tollgate.common.auth). Without it every call is refused.
    api_keys_file: str = ""
    # The flags file (the Helm ConfigMap). Without it every optimization is off.
    flags_file: str = ""
    # Empty: the price table shipped with Tollgate (it also lists the models callers may name).
    prices_file: str = ""

    orchestrator_addr: str = "127.0.0.1:50056"
    conversation_optimizer_addr: str = "127.0.0.1:50052"
    cache_addr: str = "127.0.0.1:50053"
    semantic_cache_addr: str = "127.0.0.1:50054"
    budget_ledger_addr: str = "127.0.0.1:50055"
    lead_scoring_addr: str = "127.0.0.1:50057"

    # Longest a call to Claude may take when the caller sets no deadline.
    orchestrator_timeout_seconds: float = Field(default=120.0, gt=0)

    # Request limits, checked before anything is forwarded.
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    max_messages: int = Field(default=2000, ge=1)
    max_output_tokens: int = Field(default=64_000, ge=1)
