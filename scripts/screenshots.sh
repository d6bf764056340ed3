#!/usr/bin/env bash
# Regenerates the README's screenshots of SKVQ Studio from SmolLM2-135M-Instruct runs under Xvfb:
# a calibration on WikiText-2 (outliers of all 30 layers), perplexity runs, a needle grid at
# 1K-8K tokens, an attention-locality analysis, and, when bench/peers/run.sh has been run, the
# llama.cpp peer rows with our runs by the same protocol (the dashboard with peers).
# Usage: scripts/screenshots.sh [BUILD_DIR]   (default build; env SKVQ_DATA_DIR, SKVQ_MODELS_DIR)
# The runs take about 25 minutes on 2 cores the first time and are kept (BUILD_DIR/screenshots-smollm2).
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build}
DATA=${SKVQ_DATA_DIR:-$ROOT/../shared/data}
MODELS=${SKVQ_MODELS_DIR:-$HOME/.cache/skvq/models}
MODEL=$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf
WIKI=$DATA/text/wikitext2/wiki.test.raw
OUT=$ROOT/docs/screenshots
WORK=$BUILD/screenshots-smollm2
[[ -f "$MODEL" ]] || bash "$ROOT/scripts/fetch-models.sh" >/dev/null
[[ -f "$WIKI" ]] || { echo "screenshots: $WIKI is missing; set SKVQ_DATA_DIR to the data directory" >&2; exit 1; }
[[ -f "$BUILD/CMakeCache.txt" ]] || cmake -S "$ROOT" -B "$BUILD" -DCMAKE_BUILD_TYPE=Release >/dev/null
cmake --build "$BUILD" --target skvq skvq-studio -j2
SKVQ=$BUILD/app/skvq
mkdir -p "$WORK" "$OUT"
DB=$WORK/runs.sqlite
CALIB=$WORK/smollm2-calib.json
SKVQ2=k2-v2-g32-reorder-pre_rope-clip-sink5-fp8
step() {  # step NAME COMMAND...: runs once; a finished step is skipped on the next run
  [[ -f "$WORK/$1.done" ]] && return 0
  echo "screenshots: $1..."
  "${@:2}" && touch "$WORK/$1.done"
}
step calibrate "$SKVQ" --db "$DB" calibrate --model "$MODEL" --text "$WIKI" --max-bytes 300000 --samples 8 \
  --seq-len 512 --group-sizes 32,64 --out "$CALIB"
step ppl "$SKVQ" --db "$DB" ppl --model "$MODEL" --text "$WIKI" --skip-bytes 700000 --ctx-len 512 --max-chunks 4 \
  --calib "$CALIB" --quant fp16 --quant k4-v4-g32-rtn --quant k2-v2-g32-rtn --quant k2-v2-g32-KIVI \
  --quant k2-v2-g32-reorder-clip-sink5-fp8 --quant "$SKVQ2" --quant k2-v1.5-g64-reorder-pre_rope-clip-sink5-fp8
step needle "$SKVQ" --db "$DB" needle --model "$MODEL" --calib "$CALIB" --quant "$SKVQ2" \
  --lengths 1024,2048,4096,8192 --depths 0,50,100 --max-new-tokens 24
step analyze "$SKVQ" --db "$DB" analyze --model "$MODEL" --text "$WIKI" --max-tokens 1024 --calib "$CALIB" \
  --quant "$SKVQ2"
PEERS=$BUILD/peers
if [[ -f "$PEERS/peers.json" && -f "$PEERS/runs.sqlite" ]]; then
  step peers-merge "$SKVQ" runs merge "$DB" "$PEERS/runs.sqlite"
  "$SKVQ" --db "$DB" runs import "$PEERS/peers.json"
else
  echo "screenshots: no $PEERS/peers.json: run bash bench/peers/run.sh first for the dashboard with peers" >&2
fi
# A private settings file so that the user's settings are neither read nor changed.
export XDG_CONFIG_HOME=$WORK/config
rm -rf "$XDG_CONFIG_HOME"
xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/app/studio/skvq-studio" --db "$DB" \
  --data-dir "$DATA" --screenshot-dir "$OUT"
ls -l "$OUT"
