#!/usr/bin/env bash
# Installs, builds and runs every test (CTest). CI runs this through .ci/run.
# The real-model tests need SmolLM2 in the model cache: scripts/fetch-models.sh puts it there,
# and SKVQ_REQUIRE_MODELS=1 makes a missing model a failure rather than a skip; likewise
# SKVQ_REQUIRE_SLURM=1 for the single-node Slurm of tests/slurm (slurm-wlm, munge).
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-models.sh >/dev/null
bash scripts/build.sh
export SKVQ_DATA_DIR=${SKVQ_DATA_DIR:-$(cd .. && pwd)/shared/data}
export SKVQ_REQUIRE_MODELS=${SKVQ_REQUIRE_MODELS:-1}
export SKVQ_REQUIRE_SLURM=${SKVQ_REQUIRE_SLURM:-1}  # tests/slurm: a Slurm that cannot start fails, not skips
cd build
ctest --output-on-failure -j "${SKVQ_JOBS:-$(nproc)}" --timeout 1200
cd .. && bash scripts/fuzz.sh "${SKVQ_FUZZ_SECONDS:-30}"  # every fuzz target 30 s (tests/fuzz)
