#!/usr/bin/env bash
# Configures and builds SKVQ Studio into ./build (CUDA kernels too when nvcc is on PATH).
# Usage: scripts/build.sh [extra cmake options...]
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD_DIR=${SKVQ_BUILD_DIR:-build}
JOBS=${SKVQ_JOBS:-$(nproc)}
LAUNCHER=()  # ccache when installed (a developer's machine); CI and a fresh machine build without it
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache -DCMAKE_CUDA_COMPILER_LAUNCHER=ccache)
cmake -S . -B "$BUILD_DIR" -DCMAKE_BUILD_TYPE=Release "${LAUNCHER[@]}" "$@"
cmake --build "$BUILD_DIR" -j "$JOBS"
