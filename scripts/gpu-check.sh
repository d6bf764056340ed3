#!/usr/bin/env bash
# GPU check for a machine with an NVIDIA GPU, nvcc and PyTorch 2.x (CUDA): configure with CUDA
# against PyTorch's LibTorch (torch.utils.cmake_prefix_path), build the CUDA/packed tests and
# the CLI, run test_cuda (which must run, not skip), test_packed, test_packed_generate and the
# bench (table and --json). Logs go to $BUILD/logs and are copied to $OUT/gpu-check-logs when
# OUT is set.
# Usage: scripts/gpu-check.sh [extra bench args, e.g. --ctx 4096 32768]
# Environment: BUILD (default build-gpu), CUDA_ARCHS (default 90), JOBS (default nproc).
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
  python3 -c 'import torch; print("torch", torch.__version__, "cuda", torch.version.cuda, "available", torch.cuda.is_available())' || true
} >"$LOGS/env.log" 2>&1
PREFIX=$(python3 -c 'import torch;print(torch.utils.cmake_prefix_path)' 2>>"$LOGS/env.log")
NVCC=$(command -v nvcc || true)
if [ -z "$PREFIX" ]; then echo "gpu-check: PyTorch not found (see $LOGS/env.log)"; status=2; fi
if [ $status -eq 0 ] && [ -z "$NVCC" ]; then echo "gpu-check: nvcc not found"; status=2; fi
if [ $status -eq 0 ]; then
  cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Release -DSKVQ_BUILD_GUI=OFF -DSKVQ_WITH_CUDA=ON \
    -DCMAKE_CUDA_COMPILER="$NVCC" -DCMAKE_PREFIX_PATH="$PREFIX" \
    -DCMAKE_CUDA_ARCHITECTURES="${CUDA_ARCHS:-90}" >"$LOGS/configure.log" 2>&1 || status=3
  # Without nvcc the project configures silently without CUDA: that is a failure here.
  if [ $status -eq 0 ] && ! grep -q "SKVQ: CUDA kernels ON" "$LOGS/configure.log"; then
    echo "gpu-check: configured without CUDA kernels (see $LOGS/configure.log)"; status=3
  fi
fi
if [ $status -eq 0 ]; then
  cmake --build "$BUILD" --target test_cuda test_packed test_packed_generate skvq -j"${JOBS:-$(nproc)}" \
    >"$LOGS/build.log" 2>&1 || status=4
fi
if [ $status -eq 0 ]; then
  "$BUILD/tests/test_cuda" >"$LOGS/test_cuda.log" 2>&1 || status=5
  # Skipped CUDA tests mean no usable device: the check did not check anything.
  if [ $status -eq 0 ] && grep -q "SKIPPED" "$LOGS/test_cuda.log"; then
    echo "gpu-check: CUDA tests skipped (see $LOGS/test_cuda.log)"; status=5
  fi
  "$BUILD/tests/test_packed" >"$LOGS/test_packed.log" 2>&1 || { [ $status -eq 0 ] && status=6; }
  "$BUILD/tests/test_packed_generate" >"$LOGS/test_packed_generate.log" 2>&1 || { [ $status -eq 0 ] && status=6; }
  "$BUILD/app/skvq" bench "$@" >"$LOGS/bench.log" 2>&1 || { [ $status -eq 0 ] && status=7; }
  "$BUILD/app/skvq" bench --json "$@" >"$LOGS/bench.json" 2>"$LOGS/bench_json.err" || { [ $status -eq 0 ] && status=7; }
fi
echo "gpu-check: exit status $status (0 ok, 2 no torch/nvcc, 3 configure, 4 build, 5 test_cuda, 6 test_packed(_generate), 7 bench)" | tee "$LOGS/status.txt"
tail -n 5 "$LOGS"/*.log 2>/dev/null
if [ -n "${OUT:-}" ]; then mkdir -p "$OUT" && cp -r "$LOGS" "$OUT/gpu-check-logs"; fi
exit $status
