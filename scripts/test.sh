#!/usr/bin/env bash
# Installs, builds and runs every test (CTest). CI runs this through .ci/run.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export SKVQ_DATA_DIR=${SKVQ_DATA_DIR:-$(cd .. && pwd)/shared/data}
cd build
ctest --output-on-failure -j "${SKVQ_JOBS:-$(nproc)}" --timeout 1200
