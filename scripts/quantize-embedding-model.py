"""Make the embedding model the semantic cache ships: all-MiniLM-L6-v2, ONNX, int8 weights.

    python scripts/quantize-embedding-model.py SOURCE_DIR [OUTPUT_DIR]

SOURCE_DIR is an fp32 ONNX export of sentence-transformers/all-MiniLM-L6-v2 (model.onnx,
tokenizer.json, LICENSE). Every MatMul weight and the token-embedding table are stored as int8
with one scale per output channel (symmetric), and a DequantizeLinear node in the graph turns each
back into float32 when the session loads. The file shrinks from 90 MB to 23 MB; the model still
computes in float32.

Why weights only: onnxruntime's dynamic quantizer also quantizes activations, with one scale per
call, so a question's embedding then depends on the other questions batched with it (a cosine of
0.97 between the same text alone and in a batch, in our measurement). A cache key must not depend
on its neighbours. Weight-only int8 gives the same vector alone or batched, and
docs/semantic_cache.md compares it with the fp32 export on speed and on the evaluation.

The tokenizer and licence are copied unchanged and SHA256SUMS records every file, so a load can
tell a truncated or swapped file. Needs `onnx` and `numpy` (not project dependencies: this runs
once, when the model changes).
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

import numpy as np
import onnx
from onnx import helper, numpy_helper

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "services/semantic_cache/src/tollgate/semantic_cache/embedding/all-MiniLM-L6-v2-int8"
)
COPIED = ("tokenizer.json", "LICENSE")
# Embedding tables smaller than this (positions, token types) stay float: they are tiny.
_MIN_TABLE_SIZE = 100_000


def _quantized_weights(graph: onnx.GraphProto) -> dict[str, int]:
    """Initializer name → the axis that holds its output channels, for every weight to store
    as int8: the right-hand side of each MatMul and the large Gather tables."""
    initializers = {init.name: init for init in graph.initializer}
    axes: dict[str, int] = {}
    for node in graph.node:
        if node.op_type == "MatMul" and node.input[1] in initializers:
            axes[node.input[1]] = 1  # [in, out]: one scale per output column
        elif node.op_type == "Gather" and node.input[0] in initializers:
            table = numpy_helper.to_array(initializers[node.input[0]])
            if table.size >= _MIN_TABLE_SIZE:
                axes[node.input[0]] = 0  # [vocab, dim]: one scale per token row
    return axes


def quantize(model: onnx.ModelProto) -> onnx.ModelProto:
    graph = model.graph
    axes = _quantized_weights(graph)
    initializers: list[onnx.TensorProto] = []
    dequantize: list[onnx.NodeProto] = []
    for init in graph.initializer:
        axis = axes.get(init.name)
        if axis is None:
            initializers.append(init)
            continue
        weights = numpy_helper.to_array(init).astype(np.float32)
        peak = np.max(np.abs(weights), axis=1 - axis)
        scale = np.where(peak > 0, peak / 127.0, 1.0).astype(np.float32)
        per_channel = scale.reshape((1, -1) if axis == 1 else (-1, 1))
        stored = np.clip(np.round(weights / per_channel), -127, 127).astype(np.int8)
        names = [f"{init.name}_int8", f"{init.name}_scale", f"{init.name}_zero_point"]
        initializers += [
            numpy_helper.from_array(stored, names[0]),
            numpy_helper.from_array(scale, names[1]),
            numpy_helper.from_array(np.zeros(scale.shape, dtype=np.int8), names[2]),
        ]
        dequantize.append(
            helper.make_node(
                "DequantizeLinear", names, [init.name], axis=axis, name=f"{init.name}_dequantize"
            )
        )
    nodes = list(graph.node)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    del graph.node[:]
    graph.node.extend(dequantize + nodes)
    onnx.checker.check_model(model)
    return model


def main(source: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    onnx.save(quantize(onnx.load(str(source / "model.onnx"))), str(output / "model.onnx"))
    for name in COPIED:
        shutil.copyfile(source / name, output / name)
    sums = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
        for path in sorted(output.iterdir())
        if path.name in ("model.onnx", *COPIED)
    ]
    (output / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    print(f"wrote {output}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else DEFAULT_OUTPUT)
