#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU and PyTorch 2.x (CUDA): configure with CUDA against
# PyTorch's LibTorch, build the CUDA tests and the CLI, run the CUDA/packed tests and the bench.
# Logs go to build-gpu/logs and are copied to $OUT when it is set.
# Usage: scripts/gpu-check.sh [extra bench args, e.g. --ctx 4096 32768]
set -uo pipefail
cd "$(dirname "$0")/.."
BUILD=${BUILD:-build-gpu}
LOGS=$BUILD/logs
mkdir -p "$LOGS"
export PATH=/usr/local/cuda/bin:$PATH
status=0
{
  nvidia-smi || true
  nvcc --version || true
} >"$LOGS/env.log" 2>&1
PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>>"$LOGS/env.log")
if [ -z "$PREFIX" ]; then echo "gpu-check: PyTorch not found (see $LOGS/env.log)"; status=2; fi
if [ $status -eq 0 ]; then
  cmake -S . -B "$BUILD" -DSKVQ_BUILD_GUI=OFF -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" >"$LOGS/configure.log" 2>&1 || status=3
fi
if [ $status -eq 0 ]; then
  cmake --build "$BUILD" --target test_cuda test_packed skvq -j"$(nproc)" >"$LOGS/build.log" 2>&1 || status=4
fi
if [ $status -eq 0 ]; then
  "$BUILD/tests/test_cuda" >"$LOGS/test_cuda.log" 2>&1 || status=5
  "$BUILD/tests/test_packed" >"$LOGS/test_packed.log" 2>&1 || status=6
  "$BUILD/app/skvq" bench "$@" >"$LOGS/bench.log" 2>&1 || status=7
  "$BUILD/app/skvq" bench --json "$@" >"$LOGS/bench.json" 2>"$LOGS/bench_json.err" || status=7
fi
echo "gpu-check: exit status $status (0 ok, 2 no torch, 3 configure, 4 build, 5 test_cuda, 6 test_packed, 7 bench)" | tee "$LOGS/status.txt"
tail -n 5 "$LOGS"/*.log 2>/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && cp -r "$LOGS" "$OUT/gpu-check-logs"; fi
exit $status
