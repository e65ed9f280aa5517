"""Orchestrator settings (environment variables TOLLGATE_ORCHESTRATOR_*, plus ANTHROPIC_API_KEY)."""

from __future__ import annotations

from pydantic import AliasChoices, Field
from pydantic_settings import SettingsConfigDict

from tollgate.common.pricing import shipped_prices
from tollgate.common.settings import ServiceSettings


def _role(name: str) -> str:
    return shipped_prices().role(name)


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
    # Defaults come from the model roles in the shipped price table (tollgate/common/prices.yaml).
    default_model: str = Field(default_factory=lambda: _role("default"))
    # Task name (chat, lead_analysis, report, script, intervention, classification) → model.
    # Lead analysis is a short structured reading (a JSON object with a score): the small model.
    task_models: dict[str, str] = Field(
        default_factory=lambda: {"classification": _role("small"), "lead_analysis": _role("small")}
    )
    # Upper bound on one upstream call when the caller set no deadline.
    request_timeout_seconds: float = Field(default=120.0, gt=0)

    # Retries (the SDK's own are off): attempts per model, exponential backoff with full jitter.
    max_attempts: int = Field(default=4, ge=1, le=10)
    backoff_base_seconds: float = Field(default=0.25, gt=0)
    backoff_max_seconds: float = Field(default=8.0, gt=0)

    # Adaptive concurrency (AIMD) per model: start, floor and ceiling of in-flight calls.
    concurrency_initial: int = Field(default=8, ge=1)
    concurrency_min: int = Field(default=1, ge=1)
    concurrency_max: int = Field(default=64, ge=1)

    # Circuit breaker per model: consecutive upstream failures that open it, and how long it
    # stays open before one probe call is let through.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=30.0, gt=0)

    # Task name → models tried in order when the routed model is overloaded or its circuit open.
    task_fallbacks: dict[str, list[str]] = Field(
        default_factory=lambda: {
            **{task: [_role("small")] for task in ("chat", "report", "script", "intervention")},
            "lead_analysis": [_role("default")],
            "classification": [_role("default")],
        }
    )

    # Size routing: a request of these tasks whose prompt is at most `small_request_tokens`
    # (estimated) and whose max_tokens is at most `small_request_max_output_tokens` goes to
    # `small_request_model`, unless it names its own model.
    small_request_model: str = Field(default_factory=lambda: _role("small"))
    small_request_tokens: int = Field(default=1000, ge=0)
    small_request_max_output_tokens: int = Field(default=512, ge=0)
    size_routed_tasks: list[str] = Field(
        default_factory=lambda: ["classification", "lead_analysis"]
    )

    # Fleet-wide pacing: every replica takes from one request bucket per model in this Redis,
    # sized and refilled from Anthropic's rate-limit headers. Empty URL or pacing_enabled false:
    # per-replica AIMD alone. Redis unreachable: AIMD alone until it answers again.
    pacing_enabled: bool = True
    pacing_redis_url: str = ""
    # First part of every key; lets several deployments share one Redis.
    pacing_key_prefix: str = Field(default="tg", min_length=1, max_length=64)
    # Budget of one Redis round trip; past it the call goes unpaced.
    pacing_redis_timeout_seconds: float = Field(default=0.25, gt=0)
    # After a Redis failure, calls go unpaced for this long before Redis is tried again.
    pacing_retry_seconds: float = Field(default=2.0, gt=0)
    # A wait for the shared rate that would leave less than this before the deadline is refused
    # at once (UNAVAILABLE with retry_after_seconds): the call itself needs time too.
    pacing_call_reserve_seconds: float = Field(default=1.0, ge=0)

    # Prompt caching TTL when the request does not choose one: "5m" or "1h".
    prompt_cache_default_ttl: str = Field(default="5m", pattern="^(5m|1h)$")
    # Empty: the task templates shipped with the orchestrator.
    templates_dir: str = ""
