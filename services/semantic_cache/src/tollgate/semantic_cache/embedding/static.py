"""Static retrieval vectors: a question's vector is the sum of its tokens' rows of a table.

The table (`static_embeddings.npz`, made from the shipped model by
scripts/build-static-embeddings.py) holds one row per token of the model's vocabulary: the model's
own embedding of that token alone, weighted by how rare the token is. Summing a question's rows
and normalising costs a tokenization and a few microseconds of numpy, against ~3 ms of CPU for a
run through the model; the vectors are coarser, so they only find candidates (the cache decides a
hit with the full model and the guard, `retrieval.py`).
"""

from __future__ import annotations

import hashlib
import io
from pathlib import Path

import numpy as np
from tokenizers import Tokenizer

from tollgate.semantic_cache.embedding.model import (
    ModelLoadError,
    Vectors,
    model_slug,
    recorded_digest,
)

TABLE_FILE = "static_embeddings.npz"


class StaticEmbedder:
    """Retrieval vectors from a token table that sits next to a model's tokenizer."""

    def __init__(self, model_dir: Path, *, max_tokens: int = 256) -> None:
        table_file = model_dir / TABLE_FILE
        if not table_file.is_file():
            raise ModelLoadError(f"static retrieval table not found: {table_file} is missing")
        raw = table_file.read_bytes()
        digest = hashlib.sha256(raw).hexdigest()
        if recorded_digest(model_dir, TABLE_FILE) not in (None, digest):
            raise ModelLoadError(
                f"{table_file} does not match its checksum in SHA256SUMS (truncated or replaced?)"
            )
        try:
            # From the bytes just hashed: the file is read once.
            with np.load(io.BytesIO(raw)) as arrays:
                # Dequantized once at load, kept as float16 (23 MB instead of 47 MB of float32;
                # a lookup sums its few rows in float32).
                rows = arrays["table"].astype(np.float32) * arrays["scale"][:, None]
                self._rows = rows.astype(np.float16)
        except (OSError, KeyError, ValueError) as exc:
            raise ModelLoadError(f"cannot read {table_file}: {exc}") from exc
        # Not truncated here: `token_ids` also counts a question's tokens (eligibility), so one
        # tokenization serves both; `embed_ids` truncates as the model does. No padding.
        self._tokenizer = Tokenizer.from_file(str(model_dir / "tokenizer.json"))
        self._tokenizer.no_truncation()
        self._tokenizer.no_padding()
        self._max_tokens = max_tokens
        self._name = f"{model_slug(model_dir)}-static-{digest[:8]}"

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return int(self._rows.shape[1])

    def token_ids(self, text: str) -> list[int]:
        """Every token of `text` the model's tokenizer gives, [CLS] and [SEP] included (their
        count is the model's `count_tokens`)."""
        ids: list[int] = self._tokenizer.encode(text).ids
        return ids

    def embed_one(self, text: str) -> Vectors:
        """The L2-normalised sum of the rows of `text`'s tokens ([CLS] and [SEP] left out)."""
        return self.embed_ids(self.token_ids(text))

    def embed_ids(self, token_ids: list[int]) -> Vectors:
        """`embed_one` of the text `token_ids` came from (`token_ids`), truncated as the model
        truncates: the first `max_tokens` - 2 tokens between [CLS] and [SEP]."""
        ids = token_ids[1:-1][: self._max_tokens - 2]
        summed = (
            self._rows[ids].sum(axis=0, dtype=np.float32)
            if ids
            else np.zeros(self.dimension, np.float32)
        )
        norm = float(np.linalg.norm(summed))
        vector = summed / norm if norm > 0 else summed
        vector = vector.astype(np.float32)
        vector.setflags(write=False)
        return vector
