#!/usr/bin/env bash
# Side by side with llama.cpp on SmolLM2-135M-Instruct (Q4_1 GGUF) and one WikiText-2 slice:
# builds what is missing (llama.cpp's tools from PyPI's llama-cpp-python sdist, our skvq CLI,
# the model), then runs every row with the same thread count, prints one markdown table and
# writes build/peers/peers.json (store it with: build/app/skvq runs import build/peers/peers.json).
# Options go to bench/peers/run_peers.py (--chunks N, --threads T, --depths 0,1024,4096, --only ...),
# except these: --no-hf skips the Hugging Face rows (bench/peers/run_hf.py: slow, ~15 min on 1 thread,
# and its first run installs torch and transformers into build/peers/hfvenv), --only transformers runs
# only them, --hf-chunks N sets how many chunks they feed token by token (default 4), --hf-configs
# fp,int4,int2 which of their rows to (re)measure.
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
cd "$ROOT"
export CCACHE_BASEDIR="${CCACHE_BASEDIR:-$(dirname "$ROOT")}"
command -v python3 >/dev/null || { echo "peers: error: python3 is needed" >&2; exit 1; }
HF=1 HF_ONLY=0 PASS=() HF_ARGS=()
while (($#)); do
  case "$1" in
    --no-hf) HF=0 ;;
    --hf-chunks) HF_ARGS+=(--chunks "${2:?--hf-chunks needs a number}"); shift ;;
    --hf-configs) HF_ARGS+=(--configs "${2:?--hf-configs needs a list of fp,int4,int2}"); shift ;;
    --chunks | --ctx | --skip-bytes)  # the slice and chunking of both scripts' rows
      HF_ARGS+=("${1/#--chunks/--slice-chunks}" "${2:?$1 needs a number}"); PASS+=("$1" "$2"); shift ;;
    --only)
      if [[ "${2:-}" == transformers ]]; then HF_ONLY=1; else HF=0; PASS+=("$1" "${2:-}"); fi
      shift ;;
    *) PASS+=("$1") ;;
  esac
  shift
done
((HF_ONLY)) || [[ " ${PASS[*]-} " == *" --only skvq "* ]] || bash bench/peers/build-llama-cpp.sh
if ((HF_ONLY == 0)) && [[ ! -x build/app/skvq ]]; then
  echo "peers: building skvq (CLI only)..."
  LAUNCH=()
  command -v ccache >/dev/null && LAUNCH=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
  cmake -S . -B build -DCMAKE_BUILD_TYPE=Release -DSKVQ_WITH_CUDA=OFF -DSKVQ_BUILD_GUI=OFF "${LAUNCH[@]}"
  cmake --build build -j"${JOBS:-2}" --target skvq
fi
MODELS="${SKVQ_MODELS_DIR:-$HOME/.cache/skvq/models}"
MODEL="$MODELS/SmolLM2-135M-Instruct.Q4_1.gguf"
[[ -f "$MODEL" ]] || bash scripts/fetch-models.sh >/dev/null
[[ -f "$MODEL" ]] || { echo "peers: error: $MODEL is missing after scripts/fetch-models.sh" >&2; exit 1; }
DATA="${SKVQ_DATA_DIR:-$(dirname "$ROOT")/shared/data}"
WIKI="$DATA/text/wikitext2/wiki.test.raw"
[[ -f "$WIKI" ]] || { echo "peers: error: $WIKI is missing; set SKVQ_DATA_DIR to the data directory" >&2; exit 1; }
THREADS="${THREADS:-$(nproc)}"
if ((HF_ONLY == 0)); then
  python3 bench/peers/run_peers.py --root "$ROOT" --model "$MODEL" --wiki "$WIKI" --threads "$THREADS" ${PASS[@]+"${PASS[@]}"}
fi
if ((HF)); then
  python3 bench/peers/run_hf.py --model "$MODEL" --wiki "$WIKI" --threads "$THREADS" ${HF_ARGS[@]+"${HF_ARGS[@]}"}
fi
