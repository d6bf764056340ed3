#!/usr/bin/env bash
# The main job on a fresh Debian 12 machine: install, fetch SmolLM2-135M-Instruct into the model
# cache, build, then calibrate it on WikiText-2 and compare fp16 with SKVQ, KIVI and RTN
# KV-cache configurations by perplexity on held-out WikiText-2 text (examples/demo-smollm2.json).
# Runs are stored in runs.sqlite; a second run skips what is stored.
# Data: $SKVQ_DATA_DIR, default ../shared/data; models: $SKVQ_MODELS_DIR, default ~/.cache/skvq/models.
set -euo pipefail
cd "$(dirname "$0")/.."
bash scripts/install-deps.sh
bash scripts/fetch-models.sh >/dev/null
bash scripts/build.sh
export SKVQ_DATA_DIR=${SKVQ_DATA_DIR:-$(cd .. && pwd)/shared/data}
if [ ! -f "$SKVQ_DATA_DIR/text/wikitext2/wiki.test.raw" ]; then
  echo "demo: $SKVQ_DATA_DIR/text/wikitext2/wiki.test.raw is missing; set SKVQ_DATA_DIR to the data directory" >&2
  exit 1
fi
./build/app/skvq --db runs.sqlite batch examples/demo-smollm2.json
./build/app/skvq --db runs.sqlite runs list --kind ppl
