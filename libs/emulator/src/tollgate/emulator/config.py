"""Run-time configuration of the emulator.

One mutable ``EmulatorConfig`` is shared by the whole server and read on every
request, so tests can change latency or faults between calls and a control
script can patch it over HTTP (``apply_patch``) while clients are connected.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any


class FaultKind(StrEnum):
    """What an injected fault does to one ``/v1/messages`` request."""

    NONE = "none"  # a scripted pass: consumes a script slot, serves normally
    RATE_LIMIT = "rate_limit"  # 429 rate_limit_error with retry-after headers
    OVERLOADED = "overloaded"  # 529 overloaded_error
    API_ERROR = "api_error"  # 500 api_error
    CONNECTION_DROP = "connection_drop"  # socket closed before any response
    # Socket closed halfway through a stream (before any response when not streaming).
    STREAM_DROP = "stream_drop"
    # An overloaded_error `error` event halfway through a stream, as the real API sends
    # when it fails after the 200 went out (a plain 529 when not streaming).
    STREAM_ERROR = "stream_error"


@dataclass
class LatencyConfig:
    ttft_ms: float = 0.0
    # Output pacing; 0 means as fast as possible.
    tokens_per_second: float = 0.0


@dataclass
class FaultRates:
    """Per-request probabilities; drawn once per request from the seeded generator."""

    rate_limit: float = 0.0
    overloaded: float = 0.0
    api_error: float = 0.0
    connection_drop: float = 0.0
    stream_drop: float = 0.0
    stream_error: float = 0.0


@dataclass
class RateLimitConfig:
    """Per-minute limits of one organisation (API key) and model; None: no such limit.

    The defaults are a generous organisation that ordinary tests and benchmarks never reach;
    set a small `requests_per_minute` to see 429s and the headers run down.
    """

    requests_per_minute: int | None = 100_000
    input_tokens_per_minute: int | None = 100_000_000
    output_tokens_per_minute: int | None = 20_000_000


@dataclass
class ScriptedFault:
    """One entry of the fault script; the control API also accepts a bare kind string."""

    kind: FaultKind
    # Only requests for this model consume the entry; None matches any model.
    model: str | None = None
    retry_after_s: float | None = None


DEFAULT_MODELS: tuple[str, ...] = (
    "claude-opus-4-8",
    "claude-opus-4-7",
    "claude-opus-4-6",
    "claude-sonnet-4-6",
    "claude-opus-4-5",
    "claude-opus-4-5-20251101",
    "claude-sonnet-4-5",
    "claude-sonnet-4-5-20250929",
    "claude-haiku-4-5",
    "claude-haiku-4-5-20251001",
)


def _default_min_cacheable() -> dict[str, int]:
    return {"opus": 1024, "sonnet": 1024, "haiku": 2048}


@dataclass
class EmulatorConfig:
    latency: LatencyConfig = field(default_factory=LatencyConfig)
    faults: FaultRates = field(default_factory=FaultRates)
    # Consumed front to back, one entry per request, before rates apply.
    fault_script: list[ScriptedFault] = field(default_factory=list)
    rate_limits: RateLimitConfig = field(default_factory=RateLimitConfig)
    # At most this many /v1/messages requests in flight; None is unlimited.
    max_concurrency: int | None = None
    # Seeds the random faults; setting a new seed restarts their sequence.
    seed: int = 0
    # Advertised by every 429 unless a scripted fault names its own.
    retry_after_s: float = 1.0
    # How long a new batch waits before it is processed (cancel works meanwhile).
    batch_processing_delay_s: float = 0.0
    # Minimum prompt-prefix length that can be cached, by model family.
    min_cacheable_tokens: dict[str, int] = field(default_factory=_default_min_cacheable)
    default_min_cacheable_tokens: int = 1024
    # Listed by GET /v1/models; any other id starting with "claude-" is accepted too.
    models: list[str] = field(default_factory=lambda: list(DEFAULT_MODELS))
    max_output_tokens: int = 64000
    # How many request records the stats keep (oldest dropped first); read at start-up.
    record_limit: int = 10000
    # Fixed answer texts: when the last user message contains a key (case-insensitive), the
    # answer is that key's text (still cut by max_tokens and stop sequences) instead of one
    # composed from the prompt. The first matching key in order wins.
    scripted_answers: dict[str, str] = field(default_factory=dict)

    def scripted_answer(self, question: str) -> str | None:
        lowered = question.lower()
        for phrase, text in self.scripted_answers.items():
            if phrase.lower() in lowered:
                return text
        return None

    def knows_model(self, model: str) -> bool:
        return model in self.models or model.startswith("claude-")

    def min_cacheable_for(self, model: str) -> int:
        for family, tokens in self.min_cacheable_tokens.items():
            if family in model:
                return tokens
        return self.default_min_cacheable_tokens

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: Mapping[str, Any]) -> EmulatorConfig:
        """Build a config from JSON-like data, rejecting unknown keys and bad values."""
        return _parse_config(data)

    def apply_patch(self, patch: Mapping[str, Any]) -> None:
        """Merge a JSON patch (nested objects merge, lists replace); all or nothing."""
        self.assign(_parse_config(_merge(self.to_dict(), patch)))

    def assign(self, other: EmulatorConfig) -> None:
        """Take over every setting of `other` in place, so all holders of this object see it."""
        for item in dataclasses.fields(self):
            setattr(self, item.name, getattr(other, item.name))


def _merge(base: Mapping[str, Any], patch: Mapping[str, Any]) -> dict[str, Any]:
    merged = dict(base)
    for key, value in patch.items():
        current = merged.get(key)
        if isinstance(current, Mapping) and isinstance(value, Mapping):
            merged[key] = _merge(current, value)
        else:
            merged[key] = value
    return merged


def _check_keys(data: Mapping[str, Any], allowed: type[Any], where: str) -> None:
    known = {item.name for item in dataclasses.fields(allowed)}
    unknown = sorted(set(data) - known)
    if unknown:
        raise ValueError(f"{where}: unknown field(s) {', '.join(unknown)}")


def _number(value: Any, where: str, *, low: float = 0.0, high: float | None = None) -> float:
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise ValueError(f"{where}: expected a number")
    if value < low or (high is not None and value > high):
        bound = f"[{low}, {high}]" if high is not None else f">= {low}"
        raise ValueError(f"{where}: must be {bound}")
    return float(value)


def _integer(value: Any, where: str, *, low: int = 0) -> int:
    if isinstance(value, bool) or not isinstance(value, int):
        raise ValueError(f"{where}: expected an integer")
    if value < low:
        raise ValueError(f"{where}: must be >= {low}")
    return value


def _mapping(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, Mapping):
        raise ValueError(f"{where}: expected an object")
    return value


def _parse_latency(data: Mapping[str, Any]) -> LatencyConfig:
    _check_keys(data, LatencyConfig, "latency")
    return LatencyConfig(
        ttft_ms=_number(data.get("ttft_ms", 0.0), "latency.ttft_ms"),
        tokens_per_second=_number(data.get("tokens_per_second", 0.0), "latency.tokens_per_second"),
    )


def _parse_rates(data: Mapping[str, Any]) -> FaultRates:
    _check_keys(data, FaultRates, "faults")
    rates = FaultRates(
        **{
            item.name: _number(data.get(item.name, 0.0), f"faults.{item.name}", high=1.0)
            for item in dataclasses.fields(FaultRates)
        }
    )
    if sum(dataclasses.astuple(rates)) > 1.0:
        raise ValueError("faults: rates must add up to at most 1")
    return rates


def _parse_rate_limits(data: Mapping[str, Any]) -> RateLimitConfig:
    _check_keys(data, RateLimitConfig, "rate_limits")
    defaults = RateLimitConfig()
    limits: dict[str, int | None] = {}
    for item in dataclasses.fields(RateLimitConfig):
        value = data.get(item.name, getattr(defaults, item.name))
        where = f"rate_limits.{item.name}"
        limits[item.name] = None if value is None else _integer(value, where, low=1)
    return RateLimitConfig(**limits)


def _parse_scripted(data: Any, where: str) -> ScriptedFault:
    if isinstance(data, str):
        data = {"kind": data}
    data = _mapping(data, where)
    _check_keys(data, ScriptedFault, where)
    try:
        kind = FaultKind(data.get("kind"))
    except ValueError:
        choices = ", ".join(kind.value for kind in FaultKind)
        raise ValueError(f"{where}.kind: expected one of {choices}") from None
    model = data.get("model")
    if model is not None and not isinstance(model, str):
        raise ValueError(f"{where}.model: expected a string")
    retry = data.get("retry_after_s")
    return ScriptedFault(
        kind=kind,
        model=model,
        retry_after_s=None if retry is None else _number(retry, f"{where}.retry_after_s"),
    )


def _parse_config(data: Mapping[str, Any]) -> EmulatorConfig:
    _check_keys(data, EmulatorConfig, "config")
    defaults = EmulatorConfig()
    script = data.get("fault_script", [])
    if not isinstance(script, list):
        raise ValueError("fault_script: expected a list")
    concurrency = data.get("max_concurrency")
    families = _mapping(
        data.get("min_cacheable_tokens", defaults.min_cacheable_tokens), "min_cacheable_tokens"
    )
    models = data.get("models", defaults.models)
    if not isinstance(models, list) or not all(isinstance(m, str) for m in models):
        raise ValueError("models: expected a list of strings")
    return EmulatorConfig(
        latency=_parse_latency(_mapping(data.get("latency", {}), "latency")),
        faults=_parse_rates(_mapping(data.get("faults", {}), "faults")),
        rate_limits=_parse_rate_limits(_mapping(data.get("rate_limits", {}), "rate_limits")),
        fault_script=[
            entry
            if isinstance(entry, ScriptedFault)
            else _parse_scripted(entry, f"fault_script.{i}")
            for i, entry in enumerate(script)
        ],
        max_concurrency=None
        if concurrency is None
        else _integer(concurrency, "max_concurrency", low=1),
        seed=_integer(data.get("seed", defaults.seed), "seed"),
        retry_after_s=_number(data.get("retry_after_s", defaults.retry_after_s), "retry_after_s"),
        batch_processing_delay_s=_number(
            data.get("batch_processing_delay_s", defaults.batch_processing_delay_s),
            "batch_processing_delay_s",
        ),
        min_cacheable_tokens={
            str(family): _integer(tokens, f"min_cacheable_tokens.{family}")
            for family, tokens in families.items()
        },
        default_min_cacheable_tokens=_integer(
            data.get("default_min_cacheable_tokens", defaults.default_min_cacheable_tokens),
            "default_min_cacheable_tokens",
        ),
        models=list(models),
        max_output_tokens=_integer(
            data.get("max_output_tokens", defaults.max_output_tokens), "max_output_tokens", low=1
        ),
        record_limit=_integer(data.get("record_limit", defaults.record_limit), "record_limit"),
        scripted_answers=_texts(data.get("scripted_answers", {}), "scripted_answers"),
    )


def _texts(data: Any, where: str) -> dict[str, str]:
    texts = _mapping(data, where)
    if not all(isinstance(k, str) and k and isinstance(v, str) and v for k, v in texts.items()):
        raise ValueError(f"{where}: expected non-empty phrases mapped to non-empty texts")
    return dict(texts)
