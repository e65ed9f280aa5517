"""Make the embedding model the semantic cache ships: all-MiniLM-L6-v2, ONNX, int8.

    python scripts/quantize-embedding-model.py SOURCE_DIR [OUTPUT_DIR]

SOURCE_DIR is an fp32 ONNX export of sentence-transformers/all-MiniLM-L6-v2 (model.onnx,
tokenizer.json, LICENSE), or a folder this script made before (its int8 weights are kept as they
are, bit for bit). Two steps:

1. Weights: every MatMul weight and the token-embedding table are stored as int8 with one scale
   per output channel (symmetric); a DequantizeLinear node turns the embedding table back into
   float32 when the session loads. The file shrinks from 90 MB to 23 MB.
2. Activations: each MatMul of an activation by int8 weights becomes an integer MatMul
   (onnxruntime's u8 x s8 kernels) on the activation quantized **one row at a time** to 7 bits
   (0..127): every token gets its own scale and offset from its own minimum and maximum, and the
   float result is rebuilt as scale * (q . w) * w_scale + min * colsum(w). The attention's own
   MatMuls (activation by activation) stay float. Half the CPU of the float32 arithmetic per
   text (measured in docs/semantic_cache.md).

Why per row: onnxruntime's dynamic quantizer takes one scale per call for the whole batch, so a
question's embedding then depends on the other questions batched with it (a cosine of 0.97
between the same text alone and in a batch, in our measurement). A cache key must not depend on
its neighbours. A row's scale depends on that token alone, and integer sums are exact, so a text
gets the same vector alone or in any batch (bit for bit, measured).

Why 7 bits: on x86 CPUs without VNNI (AMD before Zen 4, Intel before Cascade Lake) onnxruntime's
u8 x s8 kernel adds each pair of products in 16 bits, saturating (VPMADDUBSW). With 8-bit
activations (0..255) 1.6e-4 of those pair sums overflow on the corpus's questions, and a numpy
emulation of that saturation put a question's vector at cosine 0.96 of its exact one: vectors
would depend on the CPU. With 0..127 a pair is at most 2 * 127 * 127 = 32,258 and never
overflows, so the integer part is exact on every CPU. The price: the lowest cosine to the
float32 model over the corpus's 1,090 questions was 0.9951 when measured for this choice (8 bits
on a VNNI CPU: 0.9988); 0.9944 with onnxruntime 1.31.1, whose float parts differ slightly.

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
STATIC_TABLE = "static_embeddings.npz"
COPIED = ("tokenizer.json", "LICENSE")
_FLOAT = onnx.TensorProto.FLOAT
# Activation levels: 7 bits, so that no pair of u8 x s8 products overflows 16 bits (docstring).
_LEVELS = 127
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


def quantize_activations(model: onnx.ModelProto) -> onnx.ModelProto:
    """Each MatMul(x, DequantizeLinear(w_int8, w_scale)) becomes an integer MatMul on x quantized
    per row (see the module docstring). A model already rewritten has no such MatMul left."""
    graph = model.graph
    opset = next(o.version for o in model.opset_import if o.domain in ("", "ai.onnx"))
    if opset >= 18:
        sys.exit("opset 18 moved ReduceMax/ReduceMin's axes to an input: extend _quantize_rows")
    values = {init.name: init for init in graph.initializer}
    producers = {out: node for node in graph.node for out in node.output}
    shared = [
        numpy_helper.from_array(np.array(1 / _LEVELS, dtype=np.float32), "row_quant_step"),
        numpy_helper.from_array(np.array(1e-12, dtype=np.float32), "row_quant_tiny"),
        numpy_helper.from_array(np.array(0, dtype=np.float32), "row_quant_low"),
        numpy_helper.from_array(np.array(_LEVELS, dtype=np.float32), "row_quant_high"),
    ]
    rows: dict[str, tuple[str, str, str]] = {}  # activation -> (uint8 rows, scale, minimum)
    nodes: list[onnx.NodeProto] = []
    added: list[onnx.TensorProto] = []
    for node in graph.node:
        weights = _int8_weights(node, producers, values)
        if weights is None:
            nodes.append(node)
            continue
        stored, scale = weights
        activation = node.input[0]
        if activation not in rows:
            rows[activation], row_nodes = _quantize_rows(activation)
            nodes += row_nodes
        quantized, row_scale, row_min = rows[activation]
        base = node.name or node.output[0]
        # colsum[n] = sum_k w[k, n] * w_scale[n]: what the rows' minimum contributes.
        colsum = numpy_helper.to_array(values[stored]).astype(np.int64).sum(axis=0)
        column_sums = colsum.astype(np.float32) * numpy_helper.to_array(values[scale])
        added.append(numpy_helper.from_array(column_sums.astype(np.float32), f"{base}_colsum"))
        nodes += [
            helper.make_node("MatMulInteger", [quantized, stored], [f"{base}_int32"]),
            helper.make_node("Cast", [f"{base}_int32"], [f"{base}_float"], to=_FLOAT),
            helper.make_node("Mul", [f"{base}_float", row_scale], [f"{base}_rows"]),
            helper.make_node("Mul", [f"{base}_rows", scale], [f"{base}_scaled"]),
            helper.make_node("Mul", [row_min, f"{base}_colsum"], [f"{base}_offset"]),
            helper.make_node("Add", [f"{base}_scaled", f"{base}_offset"], list(node.output)),
        ]
    used = {name for node in nodes for name in node.input}
    kept = [n for n in nodes if n.op_type != "DequantizeLinear" or n.output[0] in used]
    used = {name for node in kept for name in node.input}
    initializers = [i for i in [*graph.initializer, *shared, *added] if i.name in used]
    del graph.node[:]
    graph.node.extend(kept)
    del graph.initializer[:]
    graph.initializer.extend(initializers)
    onnx.checker.check_model(model)
    return model


def _int8_weights(
    node: onnx.NodeProto,
    producers: dict[str, onnx.NodeProto],
    values: dict[str, onnx.TensorProto],
) -> tuple[str, str] | None:
    """(int8 weights, per-column scale) when `node` is a MatMul by DequantizeLinear'd int8
    weights with one scale per output column and no zero point; else None."""
    if node.op_type != "MatMul" or node.input[1] not in producers:
        return None
    dequantize = producers[node.input[1]]
    if dequantize.op_type != "DequantizeLinear":
        return None
    stored, scale = dequantize.input[0], dequantize.input[1]
    if stored not in values or scale not in values:
        return None
    if values[stored].data_type != onnx.TensorProto.INT8:
        return None
    if len(dequantize.input) > 2 and dequantize.input[2]:
        zero_point = numpy_helper.to_array(values[dequantize.input[2]])
        if zero_point.any():
            return None
    return stored, scale


def _quantize_rows(activation: str) -> tuple[tuple[str, str, str], list[onnx.NodeProto]]:
    """Nodes quantizing `activation` along its last axis to 0.._LEVELS, one scale and minimum per
    row: q = round((x - min) / scale), scale = (max - min) / _LEVELS."""
    name = f"{activation}_rows"
    made = (f"{name}_uint8", f"{name}_scale", f"{name}_min")
    nodes = [
        helper.make_node("ReduceMax", [activation], [f"{name}_max"], axes=[-1], keepdims=1),
        helper.make_node("ReduceMin", [activation], [made[2]], axes=[-1], keepdims=1),
        helper.make_node("Sub", [f"{name}_max", made[2]], [f"{name}_range"]),
        helper.make_node("Mul", [f"{name}_range", "row_quant_step"], [f"{name}_step"]),
        # A constant row (range 0) quantizes to zeros and is rebuilt from its minimum alone.
        helper.make_node("Max", [f"{name}_step", "row_quant_tiny"], [made[1]]),
        helper.make_node("Sub", [activation, made[2]], [f"{name}_shifted"]),
        helper.make_node("Div", [f"{name}_shifted", made[1]], [f"{name}_levels"]),
        helper.make_node("Round", [f"{name}_levels"], [f"{name}_rounded"]),
        helper.make_node(
            "Clip", [f"{name}_rounded", "row_quant_low", "row_quant_high"], [f"{name}_clipped"]
        ),
        helper.make_node("Cast", [f"{name}_clipped"], [made[0]], to=onnx.TensorProto.UINT8),
    ]
    return made, nodes


def main(source: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    model = quantize_activations(quantize(onnx.load(str(source / "model.onnx"))))
    onnx.save(model, str(output / "model.onnx"))
    for name in COPIED:
        shutil.copyfile(source / name, output / name)
    sums = [
        f"{hashlib.sha256(path.read_bytes()).hexdigest()}  {path.name}"
        for path in sorted(output.iterdir())
        if path.name in ("model.onnx", *COPIED)
    ]
    (output / "SHA256SUMS").write_text("\n".join(sums) + "\n")
    # The static retrieval table is made from the model: one left from the previous model would
    # find candidates by vectors this model no longer gives (the service searches by the model's
    # own vectors until the table is made again).
    (output / STATIC_TABLE).unlink(missing_ok=True)
    print(f"wrote {output}; make its static table: scripts/build-static-embeddings.py {output}")


if __name__ == "__main__":
    if len(sys.argv) not in (2, 3):
        sys.exit(__doc__)
    main(Path(sys.argv[1]), Path(sys.argv[2]) if len(sys.argv) == 3 else DEFAULT_OUTPUT)
