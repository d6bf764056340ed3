#!/usr/bin/env bash
# Builds llama.cpp's llama-perplexity and llama-bench (CPU only) from the llama.cpp source tree
# vendored in the llama-cpp-python source distribution on PyPI, into build/peers/llama.cpp.
# Nothing of llama.cpp is committed; the sources live under build/peers/src.
# Usage: bash bench/peers/build-llama-cpp.sh        (env: LLAMA_CPP_PY_VERSION, JOBS)
set -euo pipefail
ROOT="$(cd "$(dirname "$0")/../.." && pwd)"
PIN="${LLAMA_CPP_PY_VERSION:-0.3.36}"
JOBS="${JOBS:-2}"
SRC="$ROOT/build/peers/src"
OUT="$ROOT/build/peers/llama.cpp"
BIN="$OUT/bin"

if [[ -x "$BIN/llama-perplexity" && -x "$BIN/llama-bench" && -x "$BIN/llama-tokenize" && -f "$OUT/VERSION" ]] &&
   grep -q "llama-cpp-python $PIN" "$OUT/VERSION"; then
  echo "llama.cpp already built: $(head -2 "$OUT/VERSION" | tr '\n' ' ')"
  exit 0
fi
command -v pip >/dev/null || { echo "error: pip not found; install python3-pip" >&2; exit 1; }
command -v cmake >/dev/null || { echo "error: cmake not found" >&2; exit 1; }

mkdir -p "$SRC"
SDIST="$(ls "$SRC"/llama_cpp_python-"$PIN".tar.gz 2>/dev/null || true)"
if [[ -z "$SDIST" ]]; then
  # --no-binary for this package only: its build tools (scikit-build-core) come as wheels,
  # otherwise pip builds their whole dependency tree from source just to read metadata.
  echo "downloading llama-cpp-python==$PIN (source distribution) from PyPI..."
  if ! pip download --quiet --no-deps --no-binary llama-cpp-python -d "$SRC" "llama-cpp-python==$PIN"; then
    echo "error: could not download llama-cpp-python==$PIN with pip (registry unreachable or" \
         "version missing); set LLAMA_CPP_PY_VERSION or check network/pip config" >&2
    exit 1
  fi
  SDIST="$(ls "$SRC"/llama_cpp_python-"$PIN".tar.gz)"
fi
TREE="$SRC/llama_cpp_python-$PIN"
[[ -d "$TREE/vendor/llama.cpp" ]] || tar -xzf "$SDIST" -C "$SRC"
LCPP="$TREE/vendor/llama.cpp"
[[ -f "$LCPP/CMakeLists.txt" ]] || { echo "error: $SDIST has no vendor/llama.cpp" >&2; exit 1; }

LAUNCH=()
if command -v ccache >/dev/null; then
  LAUNCH=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi
cmake -S "$LCPP" -B "$OUT/cmake" -DCMAKE_BUILD_TYPE=Release -DGGML_NATIVE=ON \
  -DLLAMA_CURL=OFF -DGGML_CUDA=OFF -DGGML_METAL=OFF -DGGML_VULKAN=OFF -DBUILD_SHARED_LIBS=OFF \
  -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_SERVER=OFF -DCMAKE_RUNTIME_OUTPUT_DIRECTORY="$BIN" \
  "${LAUNCH[@]}"
cmake --build "$OUT/cmake" -j"$JOBS" --target llama-perplexity llama-bench llama-tokenize
# llama.cpp sets its own CMAKE_RUNTIME_OUTPUT_DIRECTORY (cmake/bin), so the tools are copied out.
mkdir -p "$BIN"
for tool in llama-perplexity llama-bench llama-tokenize; do
  cp "$(find "$OUT/cmake" -name "$tool" -type f -perm -u+x | head -1)" "$BIN/$tool"
done

# Version: the llama-cpp-python pin plus the llama.cpp commit it vendors (its CHANGELOG names
# it; the sdist has no git history, so llama.cpp's own build number is not available).
LCOMMIT="$(grep -m1 -o 'llama.cpp@[0-9a-f]*' "$TREE/CHANGELOG.md" | cut -d@ -f2 || true)"
BUILD_INFO="$(find "$OUT/cmake" -name 'build-info.cpp' | head -1)"
BI_COMMIT="$(grep -o 'LLAMA_COMMIT = "[^"]*"' "$BUILD_INFO" 2>/dev/null | cut -d'"' -f2 || true)"
{
  echo "llama-cpp-python $PIN"
  echo "llama.cpp commit ${LCOMMIT:-unknown} (build-info: ${BI_COMMIT:-unknown})"
  echo "built $(date -u +%Y-%m-%dT%H:%M:%SZ) with GGML_NATIVE=ON, CPU only"
} > "$OUT/VERSION"
cat "$OUT/VERSION"
