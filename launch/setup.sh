#!/usr/bin/env bash
# Install what is missing (Debian packages) and build AMEIR-C into ./build.
# Usage: bash launch/setup.sh           the runtime: what building and running ameir needs
#        bash launch/setup.sh --tests   also what the test suite needs (PyTorch, h5py,
#                                       scikit-learn for the references; SLURM and munge)
# (as root, or run the apt-get line it prints)
set -euo pipefail
cd "$(dirname "$0")/.."

packages=(meson ninja-build pkg-config gcc libopenmpi-dev openmpi-bin libopenblas-dev
          libhdf5-openmpi-dev libcjson-dev zlib1g-dev)
if [ "${1:-}" = "--tests" ]; then
  # PyTorch references and h5py readers; slurm-wlm and munge: the real one-node SLURM of
  # tests/reliability/test_slurm.py (about 1 GB in all, which only the tests use)
  packages+=(python3-torch python3-h5py python3-sklearn python3-numpy slurm-wlm munge)
fi
missing=()
for p in "${packages[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ ${#missing[@]} -gt 0 ]; then
  if [ "$(id -u)" -ne 0 ]; then
    echo "missing packages; run as root:" >&2
    echo "  apt-get update && apt-get install -y --no-install-recommends ${missing[*]}" >&2
    exit 2
  fi
  apt-get update
  DEBIAN_FRONTEND=noninteractive apt-get install -y --no-install-recommends "${missing[@]}"
fi

if [ ! -f build/build.ninja ]; then
  # --tests: with the failure injection the tests use (never in a production build)
  meson setup build --buildtype=release $([ "${1:-}" = "--tests" ] && echo -Dtest_hooks=true)
fi
ninja -C build
