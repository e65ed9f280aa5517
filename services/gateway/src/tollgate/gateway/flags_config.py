"""The gateway's flags file: which optimization is on for whom, and canary weights.

The file is the Helm-rendered ConfigMap (see deploy/helm/tollgate). Keys are camelCase as in Helm
values; flag names are snake_case. Unknown keys are refused so that a typo in an emergency
`kubectl edit` fails loudly instead of silently doing nothing.

    version: 1
    flags:
      exact_cache: {enabled: true, rolloutPercent: 100, mode: enforce, parameters: {ttlSeconds: 60}}
    canaries:
      orchestrator: {canaryWeight: 10}

Each flag's parameters are checked against its definition (tollgate.common.flag_definitions).
"""

from __future__ import annotations

import hashlib
from enum import StrEnum
from typing import Any, TypeVar

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    PrivateAttr,
    ValidationError,
    field_validator,
    model_validator,
)

from tollgate.common.flag_definitions import FLAG_KEYS, FlagParameters, definition

P = TypeVar("P", bound=FlagParameters)
BACKENDS = (
    "orchestrator",
    "conversation_optimizer",
    "cache",
    "semantic_cache",
    "budget_ledger",
    "lead_scoring",
)


class FlagMode(StrEnum):
    ENFORCE = "enforce"
    SHADOW = "shadow"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)


class FlagConfig(_Strict):
    enabled: bool = False
    rollout_percent: int = Field(default=0, ge=0, le=100, alias="rolloutPercent")
    mode: FlagMode = FlagMode.ENFORCE
    parameters: dict[str, Any] = Field(default_factory=dict)


# What a flag missing from the file is: built once (it is frozen), not on every lookup.
_OFF = FlagConfig()


class CanaryConfig(_Strict):
    canary_weight: int = Field(default=0, ge=0, le=100, alias="canaryWeight")


class GatewayConfig(_Strict):
    version: int = 1
    flags: dict[str, FlagConfig] = Field(default_factory=dict)
    canaries: dict[str, CanaryConfig] = Field(default_factory=dict)
    # Content hash of the source text, to tell which file is in force.
    source_digest: str = Field(default="", exclude=True)
    # Each flag's parameters, parsed once with the flag's own model.
    _parameters: dict[str, FlagParameters] = PrivateAttr(default_factory=dict)

    @field_validator("version")
    @classmethod
    def _known_version(cls, value: int) -> int:
        if value != 1:
            raise ValueError(f"unsupported flags file version {value}; this gateway reads 1")
        return value

    @field_validator("flags")
    @classmethod
    def _known_flags(cls, value: dict[str, FlagConfig]) -> dict[str, FlagConfig]:
        unknown = sorted(set(value) - set(FLAG_KEYS))
        if unknown:
            raise ValueError(f"unknown flag(s) {unknown}; known: {list(FLAG_KEYS)}")
        return value

    @field_validator("canaries")
    @classmethod
    def _known_backends(cls, value: dict[str, CanaryConfig]) -> dict[str, CanaryConfig]:
        unknown = sorted(set(value) - set(BACKENDS))
        if unknown:
            raise ValueError(
                f"unknown service(s) {unknown} under canaries; known: {list(BACKENDS)}"
            )
        return value

    @model_validator(mode="after")
    def _typed_parameters(self) -> GatewayConfig:
        parsed: dict[str, FlagParameters] = {}
        for key in FLAG_KEYS:
            raw = self.flags[key].parameters if key in self.flags else {}
            try:
                parsed[key] = definition(key).parameters.model_validate(raw)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
                )
                raise ValueError(f"flags.{key}.parameters: {problems}") from None
        self._parameters = parsed
        return self

    def parameters(self, key: str, kind: type[P]) -> P:
        """The flag's parameters as its definition's model (defaults for a missing flag)."""
        parameters = self._parameters.get(key) or definition(key).parameters()
        if not isinstance(parameters, kind):
            raise TypeError(f"flag {key} has {type(parameters).__name__}, not {kind.__name__}")
        return parameters

    def flag(self, key: str) -> FlagConfig:
        """The flag's config; a flag missing from the file is off."""
        return self.flags.get(key, _OFF)

    def canary_weight(self, backend: str) -> int:
        canary = self.canaries.get(backend)
        return canary.canary_weight if canary else 0


def parse_gateway_config(text: str) -> GatewayConfig:
    """Parse and validate a flags file; raises ValueError with one readable sentence."""
    try:
        data = yaml.safe_load(text)
    except yaml.YAMLError as exc:
        raise ValueError(f"flags file is not valid YAML: {exc}") from exc
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ValueError("flags file must be a YAML mapping with 'version', 'flags', 'canaries'")
    try:
        config = GatewayConfig.model_validate(data)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(str(p) for p in err['loc'])}: {err['msg']}" for err in exc.errors()
        )
        raise ValueError(f"flags file is invalid: {problems}") from exc
    digest = hashlib.sha256(text.encode()).hexdigest()[:12]
    return config.model_copy(update={"source_digest": digest})


DEFAULT_CONFIG = GatewayConfig()
