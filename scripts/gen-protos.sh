#!/usr/bin/env bash
# Generates the tollgate.v1 Python package (messages, .pyi stubs, gRPC stubs) into $1.
set -euo pipefail
out=${1:?usage: gen-protos.sh OUTDIR}
root=$(cd "$(dirname "$0")/.." && pwd)
cd "$root"
mkdir -p "$out/tollgate/v1"
rm -f "$out"/tollgate/v1/*_pb2*.py "$out"/tollgate/v1/*_pb2*.pyi
${UV:-uv} run --frozen python -m grpc_tools.protoc -I protos \
  --python_out="$out" --pyi_out="$out" --grpc_python_out="$out" --mypy_grpc_out="$out" --mypy_grpc_opt=quiet \
  protos/tollgate/v1/*.proto
cat > "$out/tollgate/v1/__init__.py" <<'PY'
"""Code generated from protos/tollgate/v1 by `make protos`. Do not edit."""
PY
