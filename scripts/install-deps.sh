#!/usr/bin/env bash
# Installs the Debian packages shardlab needs, if any is missing (fast no-op otherwise).
set -euo pipefail

PACKAGES=(
  cmake ninja-build g++ ccache pkg-config
  libtorch-dev libgloo-dev libopenblas0-pthread
  libeigen3-dev libbox2d-dev libboost-program-options-dev libhdf5-dev zlib1g-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  nlohmann-json3-dev libssl-dev libgif-dev python3-h5py python3-numpy python3-torch
  libavformat-dev libavcodec-dev libswscale-dev chromium qtbase5-dev
  clang libclang-rt-14-dev
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
[ ${#missing[@]} -eq 0 ] && exit 0

echo "shardlab: installing missing packages: ${missing[*]}" >&2
SUDO=()
if [ "$(id -u)" -ne 0 ]; then
  command -v sudo >/dev/null || { echo "shardlab: error: need root or sudo to install: ${missing[*]}" >&2; exit 1; }
  SUDO=(sudo)
fi
export DEBIAN_FRONTEND=noninteractive
"${SUDO[@]}" apt-get update -q >&2
"${SUDO[@]}" apt-get install -y -q "${missing[@]}" >&2
