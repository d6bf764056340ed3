#!/usr/bin/env bash
# Builds the libFuzzer targets of tests/fuzz (clang, AddressSanitizer + UndefinedBehaviorSanitizer)
# into build-fuzz, writes their seed corpus (files made by the engine itself) and runs each target
# for SECONDS seconds (default 30), one after the other on one core. Fails when a target finds a
# crash, a sanitizer report, an exception other than the engine's documented errors, a timeout
# or an out-of-memory; the input is left in build-fuzz/fuzz/artifacts/<target>/.
# Usage: scripts/fuzz.sh [SECONDS] [TARGET...]
# Environment: SKVQ_FUZZ_BUILD_DIR (build-fuzz), SKVQ_DATA_DIR, SKVQ_JOBS (build jobs, nproc).
set -euo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
SECONDS_PER_TARGET=${1:-30}
shift || true
BUILD=${SKVQ_FUZZ_BUILD_DIR:-build-fuzz}
DATA=${SKVQ_DATA_DIR:-$(cd .. && pwd)/shared/data}
JOBS=${SKVQ_JOBS:-$(nproc)}
ALL_TARGETS=(llama2c_model llama2c_tokenizer safetensors hf_config hf_tokenizer gguf calibration batch quant_config chat_template)
TARGETS=("$@")
[ ${#TARGETS[@]} -eq 0 ] && TARGETS=("${ALL_TARGETS[@]}")
LAUNCHER=()
command -v ccache >/dev/null && LAUNCHER=(-DCMAKE_CXX_COMPILER_LAUNCHER=ccache)

t0=$(date +%s)
cmake -S . -B "$BUILD" -DCMAKE_BUILD_TYPE=Fuzz -DCMAKE_CXX_COMPILER=clang++ -DSKVQ_WITH_CUDA=OFF \
  -DSKVQ_BUILD_GUI=OFF -DSKVQ_BUILD_TESTS=OFF -DSKVQ_BUILD_FUZZ=ON "${LAUNCHER[@]}" >/dev/null
cmake --build "$BUILD" -j "$JOBS" --target fuzz_all
t1=$(date +%s)
echo "fuzz: build took $((t1 - t0)) s"

# LibTorch and the other system libraries are not instrumented: ASan's container-overflow check
# gives false reports on std::vector objects shared with them, so it is off.
export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_container_overflow=0:detect_leaks=1:abort_on_error=1:symbolize=1}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}
export OMP_NUM_THREADS=1
OUT="$(cd "$BUILD" && pwd)/fuzz"
# Inputs the engine reads through a path are written to a scratch folder: in memory when possible.
SCRATCH=$(mktemp -d /dev/shm/skvq-fuzz.XXXXXX 2>/dev/null || mktemp -d "${TMPDIR:-/tmp}/skvq-fuzz.XXXXXX")
trap 'rm -rf "$SCRATCH"' EXIT
rm -rf "$OUT/seeds"
mkdir -p "$OUT/seeds"
TMPDIR="$SCRATCH" "$BUILD/tests/fuzz/fuzz_make_seeds" "$OUT/seeds" "$DATA" "$ROOT"

failed=()
printf '%-18s %12s %8s %10s  %s\n' target executions exec/s corpus result | tee "$OUT/summary.txt"
for t in "${TARGETS[@]}"; do
  corpus="$OUT/corpus/$t"
  artifacts="$OUT/artifacts/$t/"
  mkdir -p "$corpus" "$artifacts" "$OUT/seeds/$t"
  regressions=()
  [ -d "tests/fuzz/regressions/$t" ] && regressions=("tests/fuzz/regressions/$t")
  dict=()
  case "$t" in hf_config|hf_tokenizer|safetensors|calibration|batch) dict=(-dict=tests/fuzz/json.dict) ;; esac
  log="$OUT/$t.log"
  rc=0
  TMPDIR="$SCRATCH" "$BUILD/tests/fuzz/fuzz_$t" -max_total_time="$SECONDS_PER_TARGET" -timeout=25 \
    -rss_limit_mb=3072 -max_len=65536 -print_final_stats=1 -artifact_prefix="$artifacts" "${dict[@]}" \
    "$corpus" "$OUT/seeds/$t" "${regressions[@]}" > "$log" 2>&1 || rc=$?
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  speed=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  units=$(ls "$corpus" | wc -l)
  result=ok
  if [ "$rc" -ne 0 ]; then
    result="FAILED (exit $rc): $(ls "$artifacts" | head -3 | tr '\n' ' ')see $log"
    failed+=("$t")
  fi
  printf '%-18s %12s %8s %10s  %s\n' "$t" "${execs:-?}" "${speed:-?}" "$units" "$result" | tee -a "$OUT/summary.txt"
done
echo "fuzz: ${#TARGETS[@]} targets x ${SECONDS_PER_TARGET} s; build $((t1 - t0)) s, total $(( $(date +%s) - t0 )) s"
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: findings in ${failed[*]} (inputs under $OUT/artifacts/; logs $OUT/<target>.log)" >&2
  exit 1
fi
