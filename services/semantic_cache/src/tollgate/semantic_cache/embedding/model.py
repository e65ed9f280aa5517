"""A sentence-transformers model exported to ONNX, run with onnxruntime and `tokenizers`.

The embedding is what sentence-transformers computes for all-MiniLM-L6-v2: the mean of the last
hidden state over real tokens (attention mask 1), L2-normalised, so a dot product is the cosine
similarity. Calls are synchronous and CPU-bound; `BatchingEmbedder` runs them off the event loop.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

import numpy as np
import numpy.typing as npt
import onnxruntime as ort
from tokenizers import Tokenizer

Vectors = npt.NDArray[np.float32]

_INPUT_NAMES = ("input_ids", "attention_mask", "token_type_ids")


class ModelLoadError(RuntimeError):
    """The model folder is missing or is not a usable sentence-embedding export."""


class Embedder(Protocol):
    """Anything that turns texts into L2-normalised vectors of one fixed dimension."""

    @property
    def name(self) -> str: ...

    @property
    def dimension(self) -> int: ...

    def embed(self, texts: Sequence[str]) -> Vectors: ...

    def count_tokens(self, text: str) -> int: ...


class OnnxEmbedder:
    """all-MiniLM-L6-v2 (or another BERT-style sentence model) from a local folder."""

    def __init__(self, model_dir: Path, *, max_tokens: int = 256, threads: int = 2) -> None:
        model_file = model_dir / "model.onnx"
        tokenizer_file = model_dir / "tokenizer.json"
        for required in (model_file, tokenizer_file):
            if not required.is_file():
                raise ModelLoadError(
                    f"embedding model not found: {required} is missing; point "
                    "TOLLGATE_SEMANTIC_CACHE_MODEL_PATH at a folder with model.onnx and "
                    "tokenizer.json"
                )
        self._max_tokens = max_tokens
        self._model_dir = model_dir.resolve()
        self._name = _model_name(model_dir, model_file)

        # The exported tokenizer.json pads and truncates to a fixed 128; the model takes 256, and
        # padding to the longest text in a batch wastes less compute than a fixed width.
        self._batch_tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._batch_tokenizer.enable_truncation(max_length=max_tokens)
        self._batch_tokenizer.enable_padding()
        self._counting_tokenizer = Tokenizer.from_file(str(tokenizer_file))
        self._counting_tokenizer.no_truncation()
        self._counting_tokenizer.no_padding()

        options = ort.SessionOptions()
        options.intra_op_num_threads = threads
        # One model call at a time: the batcher serialises calls, so parallel graph branches
        # would only contend for the same cores.
        options.inter_op_num_threads = 1
        options.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
        options.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
        # Without this, onnxruntime leaves DequantizeLinear nodes out of constant folding (keeping
        # them as QDQ patterns for its quantized kernels): the shipped model's int8 embedding
        # tables would be dequantized again on every call (7.8 ms instead of 4.3 ms CPU per text,
        # one at a time, measured). With QDQ handling off they become float32 once at load. The
        # model's MatMuls are integer MatMuls in the graph itself (per-token int8 activations,
        # scripts/quantize-embedding-model.py) and do not depend on this; a weight-only int8
        # model's weights are folded to float32 the same way.
        options.add_session_config_entry("session.disable_quant_qdq", "1")
        try:
            self._session = ort.InferenceSession(
                str(model_file), options, providers=["CPUExecutionProvider"]
            )
        except Exception as exc:
            raise ModelLoadError(f"cannot load {model_file}: {exc}") from exc
        inputs = {i.name for i in self._session.get_inputs()}
        missing = [n for n in _INPUT_NAMES[:2] if n not in inputs]
        if missing:
            raise ModelLoadError(f"{model_file} lacks the inputs {missing}")
        self._wants_token_types = "token_type_ids" in inputs
        self._dimension = 0
        self._one_at_a_time = False
        self._dimension = int(self.embed(["dimension probe"]).shape[1])
        # A dynamically quantized model scales its activations per call, so a text's vector
        # would depend on the texts batched with it, and one question would embed differently
        # from one lookup to the next. Such a model is run one text per call. (The shipped model
        # quantizes each token's activations on their own, so it batches.)
        self._one_at_a_time = not self._batch_invariant()

    @property
    def name(self) -> str:
        return self._name

    @property
    def dimension(self) -> int:
        return self._dimension

    @property
    def model_dir(self) -> Path:
        return self._model_dir

    @property
    def max_tokens(self) -> int:
        return self._max_tokens

    def count_tokens(self, text: str) -> int:
        """Tokens the model would see, [CLS] and [SEP] included, before any truncation."""
        return len(self._counting_tokenizer.encode(text).ids)

    @property
    def batches(self) -> bool:
        """Whether texts share a model call (False for a model whose output depends on it)."""
        return not self._one_at_a_time

    def embed(self, texts: Sequence[str]) -> Vectors:
        """One L2-normalised row per text, in order."""
        if not texts:
            return np.zeros((0, self._dimension), dtype=np.float32)
        if self._one_at_a_time and len(texts) > 1:
            return np.concatenate([self._embed_batch([t]) for t in texts])
        return self._embed_batch(texts)

    def _batch_invariant(self) -> bool:
        probe = ["Hi", "Find 3 bed houses in Denver below $450,000 with a two-car garage"]
        together = self._embed_batch(probe)
        alone = np.concatenate([self._embed_batch([t]) for t in probe])
        return bool(np.allclose(together, alone, atol=1e-5))

    def _embed_batch(self, texts: Sequence[str]) -> Vectors:
        encodings = self._batch_tokenizer.encode_batch(list(texts))
        ids = np.asarray([e.ids for e in encodings], dtype=np.int64)
        mask = np.asarray([e.attention_mask for e in encodings], dtype=np.int64)
        feeds = {"input_ids": ids, "attention_mask": mask}
        if self._wants_token_types:
            feeds["token_type_ids"] = np.asarray([e.type_ids for e in encodings], dtype=np.int64)
        hidden = self._session.run(["last_hidden_state"], feeds)[0]
        weights = mask[..., np.newaxis].astype(np.float32)
        summed = (hidden * weights).sum(axis=1)
        counts = np.clip(weights.sum(axis=1), 1e-9, None)
        pooled = summed / counts
        norms = np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)
        return np.ascontiguousarray(pooled / norms, dtype=np.float32)


def _model_name(model_dir: Path, model_file: Path) -> str:
    """A short identifier that changes whenever the weights do: the folder name and a digest.

    Collections are per model, so vectors of two different models never meet in one search.
    """
    digest = hashlib.sha256()
    with model_file.open("rb") as stream:
        for chunk in iter(lambda: stream.read(1 << 20), b""):
            digest.update(chunk)
    expected = recorded_digest(model_dir, model_file.name)
    if expected is not None and expected != digest.hexdigest():
        raise ModelLoadError(
            f"{model_file} does not match its checksum in SHA256SUMS (truncated or replaced?)"
        )
    return f"{model_slug(model_dir)}-{digest.hexdigest()[:8]}"


def model_slug(model_dir: Path) -> str:
    """The model folder's name as a collection name may spell it."""
    return re.sub(r"[^a-z0-9]+", "-", model_dir.resolve().name.lower()).strip("-") or "model"


def recorded_digest(model_dir: Path, file_name: str) -> str | None:
    """The sha256 that the folder's SHA256SUMS records for `file_name`, if it records one."""
    sums = model_dir / "SHA256SUMS"
    if not sums.is_file():
        return None
    for line in sums.read_text().splitlines():
        digest, _, name = line.partition("  ")
        if name.strip() == file_name:
            return digest.strip()
    return None
