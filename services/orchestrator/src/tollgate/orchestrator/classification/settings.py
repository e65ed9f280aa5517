"""Settings of packed classification (TOLLGATE_ORCHESTRATOR_CLASSIFICATION_*)."""

from __future__ import annotations

from pydantic import Field
from pydantic_settings import BaseSettings, SettingsConfigDict


class ClassificationSettings(BaseSettings):
    model_config = SettingsConfigDict(
        env_prefix="TOLLGATE_ORCHESTRATOR_CLASSIFICATION_", extra="ignore"
    )

    # Items in one call when the caller does not say (the caller may ask for fewer, up to 50).
    max_items_per_call: int = Field(default=10, ge=1, le=50)
    # The most one call may write: packs are cut so that every entry fits, with room to spare.
    max_output_tokens_per_call: int = Field(default=4096, ge=256)
    # The most item text (estimated tokens) one call carries: long items travel in small packs.
    max_item_tokens_per_call: int = Field(default=12000, ge=256)
    # Calls an item may take part in: the first ask, then re-asks while its answer is missing or
    # invalid.
    max_attempts: int = Field(default=3, ge=1, le=5)
    # Packs answered at once by one ClassifyItems call; the model's AIMD limiter still decides
    # how many reach Claude.
    packs_in_flight: int = Field(default=32, ge=1)
