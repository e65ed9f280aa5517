"""Which optimizations apply to one request, and the flags file kept current while running."""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Generic, TypeVar

from tollgate.common.bucketing import bucket
from tollgate.common.flag_definitions import (
    BudgetEnforcementParameters,
    ConversationOptimizationParameters,
    ExactCacheParameters,
    FlagParameters,
    LeadReasoningParameters,
    PromptCachingParameters,
    SemanticCacheParameters,
)
from tollgate.common.flag_layers import layered_text
from tollgate.common.lru import LruCache
from tollgate.common.polling import Polling
from tollgate.gateway.flags_config import (
    DEFAULT_CONFIG,
    FlagMode,
    GatewayConfig,
    parse_gateway_config,
)

P = TypeVar("P", bound=FlagParameters)

log = logging.getLogger("tollgate.gateway.flags")


@dataclass(frozen=True)
class FlagDecision(Generic[P]):
    key: str
    active: bool
    mode: FlagMode
    bucket: int
    parameters: P

    @property
    def enforce(self) -> bool:
        return self.active and self.mode == FlagMode.ENFORCE

    @property
    def shadow(self) -> bool:
        return self.active and self.mode == FlagMode.SHADOW


def decide_typed(
    config: GatewayConfig, key: str, kind: type[P], tenant: str, contact: str
) -> FlagDecision[P]:
    """Whether flag `key` applies to this tenant and contact, with its parameters as `kind`."""
    flag = config.flag(key)
    position = bucket(key, tenant, contact)
    active = flag.enabled and position < flag.rollout_percent
    return FlagDecision(key, active, flag.mode, position, config.parameters(key, kind))


def decide(
    config: GatewayConfig, key: str, tenant: str, contact: str
) -> FlagDecision[FlagParameters]:
    return decide_typed(config, key, FlagParameters, tenant, contact)


@dataclass(frozen=True)
class Decisions:
    """Every flag decided for one request, each with its own parameter type."""

    conversation_optimization: FlagDecision[ConversationOptimizationParameters]
    exact_cache: FlagDecision[ExactCacheParameters]
    semantic_cache: FlagDecision[SemanticCacheParameters]
    prompt_caching: FlagDecision[PromptCachingParameters]
    budget_enforcement: FlagDecision[BudgetEnforcementParameters]
    lead_reasoning: FlagDecision[LeadReasoningParameters]

    @classmethod
    def evaluate(cls, config: GatewayConfig, tenant: str, contact: str) -> Decisions:
        def one(key: str, kind: type[P]) -> FlagDecision[P]:
            return decide_typed(config, key, kind, tenant, contact)

        return cls(
            conversation_optimization=one(
                "conversation_optimization", ConversationOptimizationParameters
            ),
            exact_cache=one("exact_cache", ExactCacheParameters),
            semantic_cache=one("semantic_cache", SemanticCacheParameters),
            prompt_caching=one("prompt_caching", PromptCachingParameters),
            budget_enforcement=one("budget_enforcement", BudgetEnforcementParameters),
            lead_reasoning=one("lead_reasoning", LeadReasoningParameters),
        )


class FlagsSource:
    """Holds the config in force: Helm's flags layered under the operators' runtime overrides.

    Two layers, each fed by a mounted file and optionally a ConfigMap watch:
    - **base**: the flags ConfigMap Helm renders from its values;
    - **overrides**: a second ConfigMap Helm never renders or touches, written by `tollgate
      rollout` (kill switch, set-flag, set-canary-weight). Its fields win over the base's, key by
      key, so a `helm upgrade` or `helm rollback` changes what is under an override, never the
      override itself.

    Each origin's text is applied only when that origin changes, so a file the kubelet has not
    synced yet never reverts a change the watch already applied. An invalid text (or a layering
    that gives an invalid config) is refused with one log line and the last good config stays.
    """

    def __init__(
        self,
        path: str,
        poll_seconds: float = 1.0,
        overrides_path: str = "",
        callers_kept: int = 4096,
    ) -> None:
        self._paths = {
            origin: Path(file)
            for origin, file in (("file", path), ("overrides-file", overrides_path))
            if file
        }
        self._seen: dict[str, str] = {}
        self._layers: dict[str, str] = {"base": "", "overrides": ""}
        self._config: GatewayConfig = DEFAULT_CONFIG
        self._callers_kept = callers_kept
        self._decided: LruCache[tuple[str, str], Decisions] = LruCache(callers_kept)
        self._polling = Polling(self.load, poll_seconds)

    @property
    def config(self) -> GatewayConfig:
        """The config in force; replaced whole when a new one takes effect, never changed."""
        return self._config

    def decisions(self, tenant: str, contact: str) -> Decisions:
        """Every flag decided for this caller under the config in force.

        A decision is a pure function of the config, the flag, the tenant and the contact, and
        the memo is emptied whenever another config takes effect, so it is never stale. Deciding
        costs six hashes and a dozen lookups; a repeat caller costs one lookup. Contacts are
        unbounded, so at most `callers_kept` callers are kept (least recently used first out).
        """
        caller = (tenant, contact)
        decided = self._decided.get(caller)
        if decided is None:
            decided = Decisions.evaluate(self._config, tenant, contact)
            self._decided.put(caller, decided)
        return decided

    @property
    def overrides_text(self) -> str:
        """The override layer in force ("" when there is none)."""
        return self._layers["overrides"]

    def apply_text(self, text: str, origin: str) -> bool:
        """Take a new text from `origin` (`file`/`configmap` for the base layer,
        `overrides-file`/`overrides-configmap` for the overrides); True when it took effect."""
        if self._seen.get(origin) == text:
            return False
        self._seen[origin] = text
        layer = "overrides" if origin.startswith("overrides") else "base"
        layers = {**self._layers, layer: text}
        try:
            config = parse_gateway_config(layered_text(layers["base"], layers["overrides"]))
        except ValueError as exc:
            log.error("refused new flags from %s, keeping the last good config: %s", origin, exc)
            return False
        self._layers = layers
        if config.source_digest != self._config.source_digest:
            self._config = config
            self._decided = LruCache(self._callers_kept)
            log.info(
                "flags config in force",
                extra={"config_version": config.source_digest, "origin": origin},
            )
        return True

    def load(self) -> bool:
        """Read the files now; True when a new config took effect."""
        changed = False
        for origin, path in self._paths.items():
            try:
                text = path.read_text()
            except OSError as exc:
                # The overrides ConfigMap is optional: absent means no overrides.
                if origin == "overrides-file":
                    text = ""
                else:
                    if origin not in self._seen:
                        log.warning("flags file %s unreadable (%s): optimizations off", path, exc)
                        self._seen[origin] = ""
                    continue
            changed = self.apply_text(text, origin) or changed
        return changed

    async def start(self) -> None:
        self.load()
        if self._paths:
            self._polling.start()

    async def stop(self) -> None:
        await self._polling.stop()
