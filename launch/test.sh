#!/usr/bin/env bash
# Set up (launch/setup.sh --tests: the runtime and the test packages) and run the whole test
# suite. Fails on any failed test.
# Set SANITIZE=1 to build a second tree with AddressSanitizer and UBSan and test it too.
set -euo pipefail
cd "$(dirname "$0")/.."
bash launch/setup.sh --tests
# the failure injection the tests use is compiled only on request (never in a production build)
if ! grep -q "AMEIR_TEST_HOOKS" build/build.ninja; then
  meson configure build -Dtest_hooks=true
fi
ninja -C build
# mpirun as root needs these; harmless otherwise
export OMPI_ALLOW_RUN_AS_ROOT=1 OMPI_ALLOW_RUN_AS_ROOT_CONFIRM=1
# AMEIR_NO_SKIP=1 (CI): a test that skipped (exit 77: data, torch or SLURM missing) fails the run,
# so that no test vanishes quietly on a machine that should run them all
no_skips() {
  [ "${AMEIR_NO_SKIP:-0}" = 1 ] || return 0
  /usr/bin/python3 - "$1/meson-logs/testlog.json" <<'PY'
import json, sys
skipped = [t["name"] for t in map(json.loads, open(sys.argv[1])) if t.get("result") == "SKIP"]
if skipped:
    sys.exit("AMEIR_NO_SKIP=1: %d test(s) skipped: %s" % (len(skipped), ", ".join(skipped)))
PY
}
meson test -C build --print-errorlogs --num-processes 2 --timeout-multiplier 3
no_skips build
if [ "${SANITIZE:-0}" = 1 ]; then
  if [ ! -f build-asan/build.ninja ]; then
    meson setup build-asan --buildtype=debugoptimized -Db_sanitize=address,undefined -Db_lundef=false -Dtest_hooks=true
  fi
  ninja -C build-asan
  # Open MPI's own allocations are reported as leaks; leak checking is not what this run is for
  ASAN_OPTIONS=detect_leaks=0:abort_on_error=1 UBSAN_OPTIONS=print_stacktrace=1:halt_on_error=1 \
    meson test -C build-asan --print-errorlogs --num-processes 2 --timeout-multiplier 6 --no-suite slow
  no_skips build-asan
fi
echo "all tests passed"
