#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, build, then calibrate the demo model
# (stories260K) and compare fp16 with SKVQ, KIVI and RTN KV-cache configurations by perplexity
# on TinyStories. Runs are stored in runs.sqlite; a second run skips what is stored.
# Data: $SKVQ_DATA_DIR, default ../shared/data.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/build.sh
export SKVQ_DATA_DIR=${SKVQ_DATA_DIR:-$(cd .. && pwd)/shared/data}
if [ ! -f "$SKVQ_DATA_DIR/models/stories260K/stories260K.bin" ]; then
  echo "demo: $SKVQ_DATA_DIR/models/stories260K/stories260K.bin is missing; set SKVQ_DATA_DIR to the data directory" >&2
  exit 1
fi
./build/app/skvq --db runs.sqlite batch examples/demo-stories260K.json
./build/app/skvq --db runs.sqlite runs list --kind ppl
