"""Make the embedding model the semantic cache ships: all-MiniLM-L6-v2, ONNX, weights in int8.

    python scripts/quantize-embedding-model.py SOURCE_DIR [OUTPUT_DIR]

SOURCE_DIR is an fp32 ONNX export of sentence-transformers/all-MiniLM-L6-v2 (model.onnx,
tokenizer.json, LICENSE). The weights of every MatMul and of the token-embedding Gather are
quantized to int8 with onnxruntime's dynamic quantizer (activations stay float and are quantized
per batch at run time), which cuts the file from 90 MB to about 23 MB. The tokenizer and licence
are copied unchanged and SHA256SUMS records every file, so a load can tell a truncated or swapped
file.

Needs `onnx` and `onnxruntime` (not project dependencies: this runs once, when the model changes).
docs/semantic_cache.md compares this model with the fp32 one on speed and on the evaluation.
"""

from __future__ import annotations

import hashlib
import shutil
import sys
from pathlib import Path

from onnxruntime.quantization import QuantType, quantize_dynamic

DEFAULT_OUTPUT = (
    Path(__file__).resolve().parents[1]
    / "services/semantic_cache/src/tollgate/semantic_cache/embedding/all-MiniLM-L6-v2-int8"
)
COPIED = ("tokenizer.json", "LICENSE")


def main(source: Path, output: Path) -> None:
    output.mkdir(parents=True, exist_ok=True)
    quantize_dynamic(
        str(source / "model.onnx"),
        str(output / "model.onnx"),
        weight_type=QuantType.QInt8,
        op_types_to_quantize=["MatMul", "Gather"],
    )
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
