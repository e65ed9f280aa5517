"""Gateway settings (environment variables TOLLGATE_GATEWAY_*)."""

from __future__ import annotations

from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import SettingsConfigDict

from tollgate.common.pricing import shipped_prices
from tollgate.common.settings import ServiceSettings
from tollgate.gateway.rate_limit import RateLimits


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_GATEWAY_", extra="ignore")

    port: int = 50051
    # The HTTP front door (Anthropic's Messages API, tollgate.gateway.http) on `http_port`
    # beside gRPC, in the same process; 0 picks a free port.
    http_enabled: bool = False
    http_port: int = Field(default=8080, ge=0, le=65535)
    # YAML of hashed API keys (see tollgate.common.auth). Without it every call is refused.
    api_keys_file: str = ""
    # Managed keys (CreateApiKey, `tollgate keys`), stored by the budget ledger: read beside
    # the file's, following the ledger's change feed this often. Off: only the file's keys.
    managed_keys_enabled: bool = True
    managed_keys_refresh_seconds: float = Field(default=1.0, gt=0)
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
    # Canary deployments; empty: no canary. The weight lives in the flags file.
    orchestrator_canary_addr: str = ""
    conversation_optimizer_canary_addr: str = ""
    cache_canary_addr: str = ""
    semantic_cache_canary_addr: str = ""
    budget_ledger_canary_addr: str = ""
    lead_scoring_canary_addr: str = ""

    # Deadlines of the calls to optimization services: past them the gateway goes on without.
    cache_timeout_seconds: float = Field(default=0.15, gt=0)
    semantic_cache_timeout_seconds: float = Field(default=0.5, gt=0)
    conversation_optimizer_timeout_seconds: float = Field(default=0.5, gt=0)
    budget_ledger_timeout_seconds: float = Field(default=1.0, gt=0)
    # A request whose agent_id the tenant has no profile for: `reject` (INVALID_ARGUMENT) or
    # `default` (the tenant's profile stored under the agent id "default").
    unknown_agent: Literal["reject", "default"] = "reject"
    # How long a replica reuses an agent profile it read (a change made through another replica
    # is seen within this time).
    agent_profile_cache_seconds: float = Field(default=30.0, ge=0)
    # Stored conversations (Completion.session_id). Empty URL: sessions are off (a request
    # naming one is refused). Use a Redis that keeps its data (AOF) and does not evict keys
    # that have a TTL: a session lost to eviction is a conversation lost.
    sessions_redis_url: str = ""
    sessions_key_prefix: str = "tollgate:session"
    # A session idle this long is deleted (every turn renews it).
    session_ttl_seconds: float = Field(default=7 * 24 * 3600, gt=0)
    # The most a session may store (serialized turns); a turn past it is refused.
    session_max_bytes: int = Field(default=2 * 1024 * 1024, ge=1024)
    # How long a turn waits for the one before it; the lease outlives the longest call.
    session_wait_seconds: float = Field(default=150.0, gt=0)
    session_lease_seconds: float = Field(default=180.0, gt=0)
    session_store_timeout_seconds: float = Field(default=1.0, gt=0)
    lead_scoring_timeout_seconds: float = Field(default=60.0, gt=0)
    # How long an identical request waits for the one already asking Claude (single flight).
    exact_cache_wait_for_fill_seconds: float = Field(default=30.0, ge=0)
    # Budget holds: an upper bound of the rendered request's input tokens (never below the true
    # count; tollgate.common.token_bound) times this margin, plus max_tokens, priced for the
    # named model or the dearest the orchestrator may route or fall back to. Empty: the models
    # with a role in the price table (its `roles`, which the orchestrator's defaults also use).
    reservation_token_margin: float = Field(default=1.0, ge=1.0)
    reservation_models: list[str] = Field(default_factory=list)
    # A request with template variables gets the orchestrator's task template as a system block:
    # the hold adds this many tokens for the template's own text (at least the upper bound of the
    # largest template; the shipped ones are under 400 bytes) and each variable's value as many
    # times as a template may use it (the shipped ones use each once).
    reservation_template_tokens: int = Field(default=1024, ge=0)
    reservation_template_variable_uses: int = Field(default=1, ge=1)
    # Lead reasoning holds this much per lead: input and output tokens priced for the model.
    # Lead analysis is routed to the small model, but falls back to the default one when that is
    # overloaded, so the hold is priced for the default (the dearer of the two).
    lead_reasoning_model: str = Field(default_factory=lambda: shipped_prices().role("default"))
    lead_reasoning_max_input_tokens: int = Field(default=4000, ge=1)
    # Lead scoring asks for at most this many (its REASONING_MAX_TOKENS).
    lead_reasoning_max_output_tokens: int = Field(default=512, ge=1)
    # After this many failures in a row a dependency is skipped for `breaker_open_seconds`.
    breaker_failure_threshold: int = Field(default=5, ge=1)
    breaker_open_seconds: float = Field(default=5.0, gt=0)
    # Poll interval of the flags file (a ConfigMap volume updates in place).
    flags_poll_seconds: float = Field(default=1.0, gt=0)
    # In a cluster: watch this ConfigMap through the Kubernetes API for instant flag changes.
    flags_configmap: str = ""
    flags_configmap_key: str = "flags.yaml"
    # Runtime overrides (kill switch, `tollgate rollout set-flag`), layered over the flags above:
    # a file (an optional ConfigMap volume) and the ConfigMap to watch. Helm never manages them.
    flags_overrides_file: str = ""
    flags_overrides_configmap: str = ""
    flags_overrides_configmap_key: str = "overrides.yaml"
    namespace: str = ""

    # Longest a call to Claude may take when the caller sets no deadline.
    orchestrator_timeout_seconds: float = Field(default=120.0, gt=0)
    # How often each orchestrator deployment is asked which template it renders for each task
    # (the exact cache keys templated requests by it; template_versions.py).
    template_versions_poll_seconds: float = Field(default=10.0, gt=0)
    # How long a Message Batch's budget hold lives before the ledger charges it in full (its
    # results were not read by then). At most budget_ledger_max_hold_ttl_seconds, which
    # lowers it when it is not set.
    batch_hold_ttl_seconds: float = Field(default=3600.0, gt=0)
    # The longest hold the budget ledger accepts: its TOLLGATE_BUDGET_LEDGER_MAX_HOLD_TTL_SECONDS
    # (the chart sets both from services.budgetLedger.maxHoldTtlSeconds). A longer hold_ttl would
    # have every Reserve refused, so the gateway never asks for more.
    budget_ledger_max_hold_ttl_seconds: float = Field(default=3600.0, gt=0)

    # Request limits, checked before anything is forwarded.
    max_request_bytes: int = Field(default=4 * 1024 * 1024, ge=1024)
    # Streams one caller's connection may hold open at once (callers are outside the suite).
    # Twice MAX_CONCURRENT_RPCS: gRPC's server counts a stream until it is fully closed, so a
    # caller looping N calls on one channel holds up to ~2N streams, and a stream past the limit
    # is refused (UNAVAILABLE, RST_STREAM REFUSED_STREAM). At 100, 63 such callers were refused
    # (58 were not); the calls in progress are bounded by MAX_CONCURRENT_RPCS anyway.
    max_concurrent_streams: int = Field(default=1000, ge=1)
    # Calls in progress at once; past it new calls get RESOURCE_EXHAUSTED. The server's receive
    # limit stays the common 8 MiB so that a request between max_request_bytes and it is told
    # the limit in a sentence; unauthenticated bodies are never read (tollgate.gateway.auth_gate)
    # and each method has its own limit on the raw bytes (tollgate.gateway.decoding).
    max_concurrent_rpcs: int = Field(default=500, ge=0)
    # Admin, report and lead calls (a batch of leads is larger, see service.py).
    max_small_request_bytes: int = Field(default=64 * 1024, ge=1024)
    max_messages: int = Field(default=2000, ge=1)
    max_output_tokens: int = Field(default=64_000, ge=1)

    # Rate limits, shared by every replica through this Redis. Empty: no rate limiting.
    rate_limit_redis_url: str = ""
    rate_limit_key_prefix: str = "tollgate:ratelimit"
    # Past this the limiter lets the request through (fail open) and logs it.
    rate_limit_timeout_seconds: float = Field(default=0.25, gt=0)
    # Limits for every tenant (0: unlimited), and whole replacements for some tenants, as JSON:
    # TOLLGATE_GATEWAY_RATE_LIMIT_TENANT_OVERRIDES='{"acme": {"tenant_requests_per_minute": 600}}'
    rate_limits: RateLimits = Field(default_factory=RateLimits)
    rate_limit_tenant_overrides: dict[str, RateLimits] = Field(default_factory=dict)

    # The gateway's callers are outside the suite: their W3C baggage (arbitrary key-values) is
    # dropped unless this is turned on, so it never reaches a backend. Their trace is continued.
    keep_caller_baggage: bool = False

    # Prompts and answers are not logged unless this is on; when on, e-mail addresses and phone
    # numbers are replaced before the line is written.
    log_prompts: bool = False

    @model_validator(mode="after")
    def _batch_holds_within_the_ledgers_limit(self) -> Settings:
        if "batch_hold_ttl_seconds" not in self.model_fields_set:
            # Not chosen: as long as the ledger allows, up to the default hour.
            self.batch_hold_ttl_seconds = min(
                self.batch_hold_ttl_seconds, self.budget_ledger_max_hold_ttl_seconds
            )
        elif self.batch_hold_ttl_seconds > self.budget_ledger_max_hold_ttl_seconds:
            raise ValueError(
                f"batch_hold_ttl_seconds ({self.batch_hold_ttl_seconds:g}) is longer than the "
                f"budget ledger accepts (budget_ledger_max_hold_ttl_seconds, "
                f"{self.budget_ledger_max_hold_ttl_seconds:g}): every Message Batch would be "
                "refused; lower it or raise both limits"
            )
        return self
