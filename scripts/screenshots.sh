#!/usr/bin/env bash
# Builds the demo data (stories260K runs: calibration, ppl, needle, analyze) into a run store and
# saves a PNG of the SKVQ Studio window and each view into docs/screenshots/ under Xvfb.
# Usage: scripts/screenshots.sh [BUILD_DIR]   (default build-gui)
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
BUILD=${1:-$ROOT/build-gui}
DATA=${SKVQ_DATA_DIR:-$ROOT/../shared/data}
OUT=$ROOT/docs/screenshots
WORK=$BUILD/screenshots-data
cmake -S "$ROOT" -B "$BUILD" -DSKVQ_WITH_CUDA=OFF >/dev/null
cmake --build "$BUILD" --target skvq skvq-studio -j2
SKVQ=$BUILD/app/skvq
MODEL=$DATA/models/stories260K/stories260K.bin
TEXT=$DATA/text/tinystories/tinystories_val.txt
mkdir -p "$WORK" "$OUT"
DB=$WORK/runs.sqlite
CALIB=$WORK/stories260K-calib.json
if [ ! -f "$WORK/ready" ]; then
  rm -f "$DB" "$DB"-*
  "$SKVQ" --db "$DB" calibrate --model "$MODEL" --text "$TEXT" --max-bytes 300000 --samples 16 \
    --seq-len 256 --group-sizes 8,16 --out "$CALIB"
  "$SKVQ" --db "$DB" ppl --model "$MODEL" --text "$TEXT" --ctx-len 256 --max-bytes 300000 \
    --max-chunks 16 --calib "$CALIB" --quant fp16 --quant k8-v8-g16-fp8 --quant k4-v4-g16-sink4-fp8 \
    --quant k3-v3-g16-clip-sink4-fp8 --quant k2-v2-g16-sink4-fp8 --quant k2-v2-g16-clip-sink4-fp8 \
    --quant k2-v2-g8-reorder-clip-sink4-fp8 --quant k2-v2-g16-reorder-clip-sink4-fp8
  "$SKVQ" --db "$DB" needle --model "$MODEL" --quant k2-v2-g16-sink4-fp8 \
    --lengths 256,320,384,448,512 --depths 0,25,50,75,100 --max-new-tokens 16
  "$SKVQ" --db "$DB" analyze --model "$MODEL" --text "$TEXT" --max-tokens 512 --calib "$CALIB" \
    --quant k2-v2-g16-reorder-clip-sink4-fp8
  touch "$WORK/ready"
fi
# A private settings file so that the user's settings are neither read nor changed.
export XDG_CONFIG_HOME=$WORK/config
xvfb-run -a -s "-screen 0 1600x1000x24" "$BUILD/app/studio/skvq-studio" --db "$DB" \
  --data-dir "$DATA" --screenshot-dir "$OUT"
ls -l "$OUT"
