#!/usr/bin/env bash
# Run (or continue) a search on one machine.
#
#   launch/ameir-mpirun.sh CONFIG RUN.h5 [N]
#
# Starts `mpirun -np N ameir search`: a fresh search when RUN.h5 does not exist, a resume
# (checked against CONFIG) when it does, so the same command line continues an interrupted
# run. N defaults to $AMEIR_RANKS, else the number of cores + 1 (rank 0 only coordinates
# and mostly sleeps). Ctrl-C or a SIGTERM to this script is passed to mpirun as SIGUSR1,
# which Open MPI forwards to the ranks: rank 0 writes the checkpoint and everything
# exits 3 (mpirun itself exits 1 after a SIGTERM, so we never send it one).
# Exit code: ameir's (0 done, 1 failure, 2 bad usage or input, 3 interrupted, resumable).
# Environment: AMEIR (path of the ameir executable), MPIRUN (default mpirun),
# AMEIR_MPIRUN_ARGS (extra mpirun arguments, e.g. "--bind-to none").
set -euo pipefail

if [ $# -lt 2 ] || [ $# -gt 3 ]; then
  echo "usage: $0 CONFIG RUN.h5 [N]" >&2
  exit 2
fi
config=$1 run=$2
here=$(cd "$(dirname "$0")/.." && pwd)

exe=${AMEIR:-}
if [ -z "$exe" ]; then
  for c in "$here/build/src/cli/ameir" "$(command -v ameir || true)"; do
    if [ -n "$c" ] && [ -x "$c" ]; then exe=$c; break; fi
  done
fi
if [ -z "$exe" ]; then
  echo "$0: no ameir executable: build it (bash launch/setup.sh) or set AMEIR=/path/to/ameir" >&2
  exit 2
fi

cores=$(nproc 2>/dev/null || echo 2)
n=${3:-${AMEIR_RANKS:-$((cores + 1))}}
if ! [[ $n =~ ^[1-9][0-9]*$ ]]; then
  echo "$0: N must be a positive integer, got '$n'" >&2
  exit 2
fi

mpi_args=(-np "$n")
# more ranks than cores is fine here: waiting ranks poll with short sleeps
if [ "$n" -gt "$cores" ]; then mpi_args+=(--oversubscribe); fi
if [ "$(id -u)" -eq 0 ]; then
  # Open MPI refuses to start as root unless told twice
  export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
fi
# shellcheck disable=SC2206
mpi_args+=(${AMEIR_MPIRUN_ARGS:-})

if [ -e "$run" ]; then
  echo "$0: $run exists: resuming it with $n ranks" >&2
  search_args=(--resume "$run" --config "$config")
else
  search_args=(--config "$config" --out "$run")
fi

"${MPIRUN:-mpirun}" "${mpi_args[@]}" "$exe" search "${search_args[@]}" &
pid=$!
# forward stop requests as SIGUSR1 (see above); wait again after the trap returns
trap 'kill -USR1 "$pid" 2>/dev/null || true' TERM INT USR1
status=0
while true; do
  wait "$pid" && status=0 || status=$?
  # wait returns > 128 when a trapped signal interrupted it while mpirun still runs
  if kill -0 "$pid" 2>/dev/null; then continue; fi
  break
done
exit "$status"
