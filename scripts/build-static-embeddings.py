"""Make the semantic cache's retrieval table: one static vector per token of the shipped model.

    python scripts/build-static-embeddings.py [MODEL_DIR]

MODEL_DIR defaults to the shipped model folder (all-MiniLM-L6-v2-int8). The script writes
`static_embeddings.npz` into it and records the file in its SHA256SUMS.

Each of the vocabulary's 30,522 tokens is run through the model on its own, as the one-token
text "[CLS] token [SEP]", and its row is the model's own sentence embedding of that text (the
mean of the three output positions) before normalisation. A question's retrieval vector is then
the sum of its tokens' rows, normalised (`tollgate.semantic_cache.embedding.static`): a table
lookup instead of a run through six transformer layers.

Rows are weighted by log(1 + token id): a WordPiece vocabulary lists punctuation, digits and the
commonest words first, and a word that appears in every question says little about which
question it is (the weighting of model2vec-style static distillation; it comes from the
vocabulary's order alone, not from any question). The weighted rows are then centred and
projected on their first 128 principal components: a vector of 128 numbers instead of 384 is a
third of the work for every search and store, and on the corpus's train split it finds the same
candidates (docs/semantic_cache.md). Rows are stored as int8 with one float32 scale per row
(symmetric): 4 MB.

The table only finds candidates: every answer the cache serves is still decided by the full
model's similarity and the near-miss guard. Needs only what the service already depends on
(onnxruntime, numpy, tokenizers); deterministic for a given model file and onnxruntime build.
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import numpy as np
import onnxruntime as ort
from tokenizers import Tokenizer

SHIPPED = (
    Path(__file__).resolve().parents[1]
    / "services/semantic_cache/src/tollgate/semantic_cache/embedding/all-MiniLM-L6-v2-int8"
)
OUTPUT_NAME = "static_embeddings.npz"
DIMENSIONS = 128
_CLS, _SEP = 101, 102
_BATCH = 512


def token_rows(model_dir: Path) -> np.ndarray:
    """Row t: the model's mean-pooled output for the text made of token t alone."""
    options = ort.SessionOptions()
    # As the service loads it: int8 tables folded to float32 once (see embedding/model.py).
    options.add_session_config_entry("session.disable_quant_qdq", "1")
    session = ort.InferenceSession(
        str(model_dir / "model.onnx"), options, providers=["CPUExecutionProvider"]
    )
    inputs = {i.name for i in session.get_inputs()}
    size = _vocabulary_size(model_dir)
    batches = []
    for start in range(0, size, _BATCH):
        ids = np.arange(start, min(size, start + _BATCH), dtype=np.int64)
        texts = np.stack([np.full_like(ids, _CLS), ids, np.full_like(ids, _SEP)], axis=1)
        feeds = {"input_ids": texts, "attention_mask": np.ones_like(texts)}
        if "token_type_ids" in inputs:
            feeds["token_type_ids"] = np.zeros_like(texts)
        hidden = session.run(["last_hidden_state"], feeds)[0]
        batches.append(hidden.mean(axis=1))
    return np.concatenate(batches).astype(np.float32)


def _vocabulary_size(model_dir: Path) -> int:
    return int(Tokenizer.from_file(str(model_dir / "tokenizer.json")).get_vocab_size())


def quantize(rows: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """int8 rows and the float32 scale of each (row ≈ table * scale)."""
    peak = np.abs(rows).max(axis=1)
    scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
    table = np.clip(np.rint(rows / scale[:, None]), -127, 127).astype(np.int8)
    return table, scale


def record_digest(model_dir: Path, name: str) -> None:
    sums = model_dir / "SHA256SUMS"
    digest = hashlib.sha256((model_dir / name).read_bytes()).hexdigest()
    lines = [
        line
        for line in sums.read_text().splitlines()
        if line.strip() and line.split("  ", 1)[1].strip() != name
    ]
    lines.append(f"{digest}  {name}")
    sums.write_text("\n".join(sorted(lines, key=lambda line: line.split("  ", 1)[1])) + "\n")


def principal_components(rows: np.ndarray, dimensions: int) -> np.ndarray:
    """`rows` centred and projected on their first `dimensions` principal components."""
    centred = rows - rows.mean(axis=0)
    _, _, axes = np.linalg.svd(centred, full_matrices=False)
    return (centred @ axes[:dimensions].T).astype(np.float32)


def main(argv: list[str]) -> None:
    model_dir = Path(argv[0]) if argv else SHIPPED
    rows = token_rows(model_dir)
    weights = np.log1p(np.arange(rows.shape[0], dtype=np.float32))
    table, scale = quantize(principal_components(rows * weights[:, None], DIMENSIONS))
    output = model_dir / OUTPUT_NAME
    # Not compressed: the service maps the arrays straight in; the repository stores it once.
    with output.open("wb") as stream:
        np.savez(stream, table=table, scale=scale)
    record_digest(model_dir, OUTPUT_NAME)
    print(f"wrote {output} ({output.stat().st_size / 1e6:.1f} MB, {table.shape[0]} tokens)")


if __name__ == "__main__":
    main(sys.argv[1:])
