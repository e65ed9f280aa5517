"""Settings of the semantic cache service (environment variables TOLLGATE_SEMANTIC_CACHE_*)."""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import Field, SecretStr, field_validator
from pydantic_settings import SettingsConfigDict

from tollgate.common.settings import ServiceSettings

# The model ships inside this package (int8 all-MiniLM-L6-v2, made by
# scripts/quantize-embedding-model.py), so a clone, a wheel and an image all carry it.
DEFAULT_MODEL_DIR = Path(__file__).resolve().parent / "embedding" / "all-MiniLM-L6-v2-int8"

V = TypeVar("V", int, float)

# Task names as the thresholds map spells them (TaskType without its prefix, lower case).
TASK_NAMES = frozenset(
    {"chat", "lead_analysis", "report", "script", "intervention", "classification"}
)


class Settings(ServiceSettings):
    model_config = SettingsConfigDict(env_prefix="TOLLGATE_SEMANTIC_CACHE_", extra="ignore")

    port: int = 50054

    # ---- embedding model ---------------------------------------------------------------------
    # Folder with model.onnx and tokenizer.json; empty uses DEFAULT_MODEL_DIR, the shipped model.
    model_path: str = ""
    # Longest question (in model tokens) the model sees whole; longer ones are not eligible,
    # because the embedding would silently ignore their tail.
    model_max_tokens: int = Field(default=256, ge=8, le=512)
    # onnxruntime intra-op threads. One: a second thread spins while it waits for work and
    # costs more CPU than it saves on a shared 2-core pod (semantic cache CPU per request under
    # 16 clients, in process, with the float32 model of the time: 5.8-6.1 ms at one thread,
    # 10.4-11.1 ms at two); an embedding of the shipped model takes ~2-4 ms of CPU.
    onnx_threads: int = Field(default=1, ge=1, le=64)
    embed_max_batch: int = Field(default=32, ge=1, le=512)
    # How long the first request of a batch waits for others to join it.
    embed_batch_wait_ms: float = Field(default=2.0, ge=0, le=100)
    # Embeddings kept in memory, keyed by the exact question text (384 floats ≈ 1.5 kB each).
    embed_cache_size: int = Field(default=10_000, ge=0)

    # ---- vector store ------------------------------------------------------------------------
    # A Qdrant server (e.g. http://qdrant:6333); empty runs the in-process engine (qdrant-edge).
    qdrant_url: str = ""
    qdrant_api_key: SecretStr | None = None
    qdrant_timeout_seconds: float = Field(default=5.0, gt=0)
    # Where the in-process engine keeps its shards; empty uses a temporary folder removed on stop.
    data_dir: str = ""
    # Collections are named <prefix>__<model>__<dimension>__v<schema>: one per embedding model
    # and payload layout.
    collection_prefix: str = "tollgate_semantic"
    # The in-process engine compacts deleted points away after this many deletions; compaction
    # pauses the process briefly (longer the more entries are kept).
    edge_compact_after_deletes: int = Field(default=10_000, ge=1)

    # ---- lookup ------------------------------------------------------------------------------
    # Cosine similarity an answer must reach; per task overrides, e.g. {"lead_analysis": 0.9}.
    default_threshold: float = Field(default=0.75, gt=0, le=1)
    task_thresholds: dict[str, float] = Field(default_factory=dict)
    # The near-miss guard; turning it off is for evaluation only.
    guard_enabled: bool = True
    # Nearest entries examined per lookup: a near-miss at the top must not hide a true match.
    candidates: int = Field(default=10, ge=1, le=50)
    # How entries are found: "static" searches by the model's static token table (a table
    # lookup) and runs the model only on candidates the guard lets through; "model" searches by
    # the model's own vectors (every lookup and store runs the model). A model folder without
    # a static table always uses "model". retrieval.py says why both serve the same answers.
    retrieval: Literal["static", "model"] = "static"
    # Static search similarity under which a candidate is not examined. The lowest such
    # similarity of a paraphrase the cache serves on the corpus's train split is 0.68.
    static_floor: float = Field(default=0.55, ge=0, le=1)

    # ---- bounded memory ----------------------------------------------------------------------
    # Entries kept per tenant; storing past it evicts the tenant's oldest entries. Per tenant
    # overrides, e.g. {"big-tenant": 50000}.
    max_entries_per_tenant: int = Field(default=10_000, ge=1)
    tenant_max_entries: dict[str, int] = Field(default_factory=dict)

    # ---- measured precision (SemanticVerify) ---------------------------------------------------
    # The lower bound of a tenant's measured precision under which its cache drops to shadow;
    # per tenant overrides, e.g. {"tenant-a": 0.995}.
    precision_floor: float = Field(default=0.99, ge=0, lt=1)
    tenant_precision_floors: dict[str, float] = Field(default_factory=dict)
    # Confidence of the Wilson interval around the measured precision.
    precision_confidence: float = Field(default=0.95, gt=0, lt=1)
    # Verdicts older than this no longer count (and are purged by the sweep).
    precision_window_days: float = Field(default=30.0, gt=0)
    # How long a replica trusts its last reading of a tenant's precision.
    precision_refresh_seconds: float = Field(default=5.0, ge=0)
    # Fraction of served hits the gateway is asked to verify (would-be hits in shadow: all);
    # per tenant overrides, e.g. {"tenant-a": 0.05}.
    verify_sample_rate: float = Field(default=0.01, ge=0, le=1)
    tenant_verify_sample_rates: dict[str, float] = Field(default_factory=dict)
    # Two answers whose embeddings are less similar than this disagree.
    answer_min_similarity: float = Field(default=0.80, gt=0, le=1)

    # ---- eligibility -------------------------------------------------------------------------
    # Multi-turn requests are cached with a digest of the prior turns in their scope.
    allow_multi_turn: bool = True
    # Tasks never served from the semantic cache, e.g. ["script"].
    ineligible_tasks: list[str] = Field(default_factory=list)

    # ---- lifetime ----------------------------------------------------------------------------
    default_ttl_seconds: int = Field(default=24 * 3600, ge=1)
    max_ttl_seconds: int = Field(default=30 * 24 * 3600, ge=1)
    sweep_interval_seconds: float = Field(default=60.0, gt=0)
    max_tags: int = Field(default=32, ge=0)
    max_tag_chars: int = Field(default=128, ge=1)
    # An entry's answer and question together (serialized bytes): larger ones are not stored,
    # nor served if stored under a larger limit, so a batch's reply knows how much room each of
    # its lookups may need.
    max_entry_bytes: int = Field(default=256 * 1024, ge=1024)

    @field_validator("task_thresholds")
    @classmethod
    def _known_tasks_in_unit_range(cls, value: dict[str, float]) -> dict[str, float]:
        normalised = {k.strip().lower(): v for k, v in value.items()}
        for task, threshold in normalised.items():
            if task not in TASK_NAMES:
                raise ValueError(f"unknown task {task!r}; known: {sorted(TASK_NAMES)}")
            if not 0 < threshold <= 1:
                raise ValueError(f"threshold for {task!r} must be in (0, 1], got {threshold}")
        return normalised

    @field_validator("ineligible_tasks")
    @classmethod
    def _known_ineligible_tasks(cls, value: list[str]) -> list[str]:
        normalised = [t.strip().lower() for t in value]
        unknown = [t for t in normalised if t not in TASK_NAMES]
        if unknown:
            raise ValueError(f"unknown tasks {unknown}; known: {sorted(TASK_NAMES)}")
        return normalised

    @field_validator("tenant_precision_floors")
    @classmethod
    def _floors(cls, value: dict[str, float]) -> dict[str, float]:
        return _per_tenant(value, lambda floor: 0 <= floor < 1, "a floor in [0, 1)")

    @field_validator("tenant_verify_sample_rates")
    @classmethod
    def _rates(cls, value: dict[str, float]) -> dict[str, float]:
        return _per_tenant(value, lambda rate: 0 <= rate <= 1, "a sample rate in [0, 1]")

    @field_validator("tenant_max_entries")
    @classmethod
    def _limits(cls, value: dict[str, int]) -> dict[str, int]:
        return _per_tenant(value, lambda limit: limit >= 1, "an entry limit of at least 1")

    def max_entries_for(self, tenant: str) -> int:
        return self.tenant_max_entries.get(tenant, self.max_entries_per_tenant)

    def verify_rate_for(self, tenant: str) -> float:
        return self.tenant_verify_sample_rates.get(tenant, self.verify_sample_rate)

    def resolved_model_path(self) -> Path:
        return Path(self.model_path) if self.model_path else DEFAULT_MODEL_DIR

    def threshold_for(self, task: str) -> float:
        return self.task_thresholds.get(task, self.default_threshold)


def _per_tenant(value: dict[str, V], valid: Callable[[V], bool], expected: str) -> dict[str, V]:
    for tenant, item in value.items():
        if not tenant or not valid(item):
            raise ValueError(f"tenant {tenant!r}: expected {expected}, got {item}")
    return value
