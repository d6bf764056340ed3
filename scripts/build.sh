#!/usr/bin/env bash
# Configures and builds SKVQ Studio into ./build (CUDA kernels too when nvcc is on PATH).
# Usage: scripts/build.sh [extra cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SKVQ_BUILD_DIR:-build}
JOBS=${SKVQ_JOBS:-$(nproc)}
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
