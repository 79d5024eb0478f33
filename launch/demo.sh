#!/usr/bin/env bash
# The main job: set up (as launch/setup.sh), prepare the built-in synthetic dataset and run
# a 3-rank search on it, then print the report. Output in runs/demo/ (RUN.h5, best_arch.json,
# the best model, search.svg). Run it again to resume an interrupted demo, or after
# `rm -rf runs/demo` to start over.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
ameir=./build/src/cli/ameir
ranks=${AMEIR_RANKS:-3}

if [ ! -f runs/data/synthetic/meta.json ]; then
  "$ameir" prep --config configs/datasets/synthetic.json --out runs/data/synthetic
fi
mkdir -p runs/demo
if [ -f runs/demo/RUN.h5 ]; then
  mpirun -np "$ranks" --oversubscribe "$ameir" search --resume runs/demo/RUN.h5
else
  mpirun -np "$ranks" --oversubscribe "$ameir" search --config configs/search/synthetic.json --out runs/demo/RUN.h5
fi
"$ameir" report runs/demo/RUN.h5 --svg runs/demo/search.svg
echo "demo finished: runs/demo/RUN.h5, runs/demo/best_arch.json, runs/demo/search.svg"
