#!/usr/bin/env bash
# Neural-path speed on a machine with an NVIDIA GPU: the same bench section as on CPU (full-size IP_LAP-shaped
# models, random weights), run with LIPSYNC_EP=cuda (and webgpu), plus the CPU figures for comparison.
#
#   scripts/gpu-bench.sh [OUT_DIR]        (default artifacts/gpu-bench)
#
# Needs: Node 20+, this checkout set up (npm ci), python3-torch for the one-off ONNX export (or .cache/neural/ copied
# from a machine that has it), CUDA 13 + cuDNN 9 user-space libraries. It finds them on LD_LIBRARY_PATH, or in a
# Python environment's site-packages/nvidia/*/lib (the pip CUDA wheels), searched under $CUDA_PY_SITE or the usual
# places. The CUDA provider libraries are installed by the opt-in set-up step (LIPSYNC_CUDA=1).
# Never run in this repository's CI; not yet run on a GPU by the project (no GPU was available when it was written).
set -euo pipefail
cd "$(dirname "$0")/.."
OUT="${1:-artifacts/gpu-bench}"
mkdir -p "$OUT"

nvidia-smi --query-gpu=name,driver_version,memory.total --format=csv,noheader > "$OUT/gpu.txt" 2>&1 || echo "no nvidia-smi" > "$OUT/gpu.txt"
cat "$OUT/gpu.txt"

# CUDA user-space libraries from a Python environment (nvidia-cublas, nvidia-cudnn-cu13, ... wheels).
if [ -z "${CUDA_PY_SITE:-}" ]; then
  CUDA_PY_SITE="$(python3 - <<'PY' 2>/dev/null || true
import site, sys
for p in site.getsitepackages() + [site.getusersitepackages()]:
    print(p)
PY
)"
fi
for site in $CUDA_PY_SITE; do
  if [ -d "$site/nvidia" ]; then
    for lib in "$site"/nvidia/*/lib; do LD_LIBRARY_PATH="$lib:${LD_LIBRARY_PATH:-}"; done
  fi
done
export LD_LIBRARY_PATH="${LD_LIBRARY_PATH:-}"
echo "LD_LIBRARY_PATH=$LD_LIBRARY_PATH" > "$OUT/env.txt"

LIPSYNC_CUDA=1 node scripts/setup.mjs onnxruntime-cuda

for ep in cuda webgpu cpu; do
  echo "== LIPSYNC_EP=$ep"
  LIPSYNC_EP=$ep node bin/lipsync.mjs bench --only neural --json "$OUT/neural-$ep.json" 2>&1 | tee "$OUT/neural-$ep.log" || true
done
grep -h '"gpu.provider"\|"neural.rendererMsPerFrame"\|"neural.generatorMsPerWindow"\|"neural.streamsAt25fps"' "$OUT"/neural-*.json || true
echo "results in $OUT (gpu.provider says what actually ran: a failed provider falls back to cpu and the log says why)"
