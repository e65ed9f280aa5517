"""Settings of the lead scoring service (environment variables TOLLGATE_LEAD_SCORING_*)."""

from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_LEAD_SCORING_", extra="ignore")

    port: int = 50057
    # Empty: the model shipped in the package (fitted on the shipped synthetic data).
    model_file: str = ""
    orchestrator_addr: str = "127.0.0.1:50056"
    # Deadline of one reasoning call; past it the score is returned without reasoning.
    reasoning_timeout_seconds: float = Field(default=30.0, gt=0)
    # The JSON analysis fits in 512; the orchestrator routes lead_analysis to the small model.
    reasoning_max_tokens: int = Field(default=512, ge=64, le=4096)
    # Parsed answers kept in memory, keyed by tenant, lead content and day of scoring.
    reasoning_cache_entries: int = Field(default=10_000, ge=0)
    # An analysis older than this is asked for again, even for an unchanged lead.
    reasoning_cache_ttl_seconds: float = Field(default=3600.0, gt=0)
    # How often the orchestrator is asked which lead_analysis template it renders, so readings
    # made with the previous template stop being served after an upgrade.
    template_versions_poll_seconds: float = Field(default=10.0, gt=0)
    # Profile attributes that never reach Claude, on top of name, email, phone, address and the
    # like (JSON list). Their values are also masked in the answers and the conversation.
    pii_fields: list[str] = Field(default_factory=list)
    # Personal fields allowed through anyway, e.g. ["name"] for a template that greets the lead.
    pii_allow_fields: list[str] = Field(default_factory=list)
    # Named in the lead_analysis prompt when the lead has no "company" attribute.
    company_name: str = "the agency"
    # Blend weights; only available signals take part, renormalised to add up to 1.
    weight_qualification: float = Field(default=0.35, ge=0)
    weight_conversion: float = Field(default=0.35, ge=0)
    weight_churn: float = Field(default=0.15, ge=0)
    weight_reasoning: float = Field(default=0.15, ge=0)
    hot_threshold: float = Field(default=70.0, ge=0, le=100)
    warm_threshold: float = Field(default=40.0, ge=0, le=100)
    # Churn: how fast the last touch and the weight of older events fade.
    recency_half_life_days: float = Field(default=14.0, gt=0)
    frequency_half_life_days: float = Field(default=30.0, gt=0)
    # Decayed activity at which the frequency signal is half way to full.
    frequency_saturation: float = Field(default=4.0, gt=0)
    batch_default_concurrency: int = Field(default=16, ge=1)
    batch_max_concurrency: int = Field(default=64, ge=1)
    batch_max_leads: int = Field(default=20_000, ge=1)

    @model_validator(mode="after")
    def _check(self) -> Settings:
        if self.warm_threshold > self.hot_threshold:
            raise ValueError("warm_threshold must not exceed hot_threshold")
        weights = (
            self.weight_qualification,
            self.weight_conversion,
            self.weight_churn,
            self.weight_reasoning,
        )
        if sum(weights) <= 0:
            raise ValueError("at least one blend weight must be positive")
        if self.batch_default_concurrency > self.batch_max_concurrency:
            raise ValueError("batch_default_concurrency must not exceed batch_max_concurrency")
        return self
