"""Every feature flag, defined once: its key, what it does and its typed parameters.

The gateway parses its flags file with these models, `tollgate rollout` checks an edited file with
them, and scripts/gen-chart-schema.py writes the chart's `flags.<key>.parameters` schema from
them. A parameter that is not here is refused everywhere; one that is here is read by the gateway.

Parameter names are camelCase (as in Helm values and the flags file); flag keys are snake_case
in the flags file and camelCase in Helm values.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

# The conversation optimizer's strategy names (tollgate.conversation_optimizer.policy.Strategy;
# a test keeps the two lists equal). Spelled out here so that Helm refuses a typo at upgrade time.
OptimizerStrategy = Literal[
    "keep_recent",
    "drop_low_value",
    "condense_replies",
    "truncate_tool_results",
    "facts_note",
    "summarize",
]


class FlagParameters(BaseModel):
    """A flag's parameters: unknown names are refused, values are checked, nothing is mutable."""

    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class ConversationOptimizationParameters(FlagParameters):
    target_tokens: int = Field(
        default=0,
        ge=0,
        alias="targetTokens",
        description="Token target of the optimized conversation; 0: the task's own target.",
    )
    strategies: tuple[OptimizerStrategy, ...] = Field(
        default=(), description="Strategy chain by name; empty: the task's own chain."
    )


class ExactCacheParameters(FlagParameters):
    ttl_seconds: int = Field(
        default=0,
        ge=0,
        alias="ttlSeconds",
        description="How long a stored answer is served; 0: the cache service's per-task TTL.",
    )
    cache_sampled_tenants: tuple[str, ...] = Field(
        default=(),
        alias="cacheSampledTenants",
        description=(
            "Tenants whose sampled answers (temperature above 0, or unset) are cached and served "
            "again, as if every request of theirs sent cache_sampled."
        ),
    )

    def caches_sampled(self, tenant: str) -> bool:
        """Whether this tenant's policy caches sampled answers."""
        return tenant in self.cache_sampled_tenants


class SemanticCacheParameters(FlagParameters):
    min_similarity: float = Field(
        default=0.0,
        ge=0.0,
        le=1.0,
        alias="minSimilarity",
        description="Least cosine similarity of a hit; 0: the semantic cache's own threshold.",
    )


class PromptCachingParameters(FlagParameters):
    ttl: Literal["5m", "1h"] = Field(
        default="5m", description="Lifetime of Anthropic's prompt-cache entries."
    )


class BudgetEnforcementParameters(FlagParameters):
    fail_mode: Literal["closed", "open"] = Field(
        default="closed",
        alias="failMode",
        description="When the ledger cannot be reached: refuse (closed) or answer unmetered.",
    )
    fail_open_tenants: tuple[str, ...] = Field(
        default=(), alias="failOpenTenants", description="Tenants that fail open regardless."
    )
    fail_closed_tenants: tuple[str, ...] = Field(
        default=(), alias="failClosedTenants", description="Tenants that fail closed regardless."
    )

    def fails_open(self, tenant: str) -> bool:
        """Whether this tenant is answered unmetered while the ledger is down."""
        if tenant in self.fail_open_tenants:
            return True
        if tenant in self.fail_closed_tenants:
            return False
        return self.fail_mode == "open"


class LeadReasoningParameters(FlagParameters):
    """No parameters: the reasoning model and limits are gateway settings."""


@dataclass(frozen=True)
class FlagDefinition:
    key: str
    description: str
    parameters: type[FlagParameters]

    @property
    def helm_key(self) -> str:
        """How Helm values spell the flag: exact_cache -> exactCache."""
        first, *rest = self.key.split("_")
        return first + "".join(part.title() for part in rest)

    def parameter_names(self) -> set[str]:
        return {field.alias or name for name, field in self.parameters.model_fields.items()}

    def parameters_schema(self) -> dict[str, Any]:
        """JSON Schema (draft-07 compatible) of the parameters, refusing unknown names."""
        schema = self.parameters.model_json_schema(by_alias=True)
        properties = {
            name: {k: v for k, v in prop.items() if k != "title"}
            for name, prop in schema.get("properties", {}).items()
        }
        return {"type": "object", "additionalProperties": False, "properties": properties}


FLAGS: tuple[FlagDefinition, ...] = (
    FlagDefinition(
        "conversation_optimization",
        "Fit long conversations into a token target before they reach Claude.",
        ConversationOptimizationParameters,
    ),
    FlagDefinition(
        "exact_cache",
        "Answer a request identical to an earlier one from the exact cache.",
        ExactCacheParameters,
    ),
    FlagDefinition(
        "semantic_cache",
        "Answer a question that means the same as an earlier one from the semantic cache.",
        SemanticCacheParameters,
    ),
    FlagDefinition(
        "prompt_caching",
        "Mark Anthropic prompt-cache breakpoints so repeated prefixes are billed as reads.",
        PromptCachingParameters,
    ),
    FlagDefinition(
        "budget_enforcement",
        "Hold the most a request can cost in the budget ledger; refuse what does not fit.",
        BudgetEnforcementParameters,
    ),
    FlagDefinition(
        "lead_reasoning",
        "Let lead scoring ask Claude for its reasoning (charged to the tenant's budget).",
        LeadReasoningParameters,
    ),
)
FLAG_KEYS: tuple[str, ...] = tuple(flag.key for flag in FLAGS)
_BY_KEY = {flag.key: flag for flag in FLAGS}


def definition(key: str) -> FlagDefinition:
    """The flag named `key`; KeyError names the known flags."""
    try:
        return _BY_KEY[key]
    except KeyError:
        raise KeyError(f"unknown flag {key!r}; known: {', '.join(FLAG_KEYS)}") from None
