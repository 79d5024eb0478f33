"""Measurement (not a test): how long the ranks of a search live after `kill -9` of mpirun.

    AMEIR_EXE=build/src/cli/ameir /usr/bin/python3 tests/reliability/orphans.py [ROUNDS]

Each round starts `mpirun -np 3 ameir search` on the MPI tests' synthetic config, waits for
two progress lines, sends SIGKILL to mpirun and polls /proc every millisecond until every rank
is gone (or 30 s). Prints each round's time and the median; docs/reliability.md quotes it."""
import os
import signal
import statistics
import subprocess
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
from test_mpi_common import Workspace, mpi_env, mpirun_args, rank_pids  # noqa: E402


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def one_round(ws, i):
    rh5 = os.path.join(ws.run_dir("r%d" % i), "RUN.h5")
    proc = subprocess.Popen(mpirun_args(3) + ["search", "--config", ws.config, "--out", rh5], stdout=subprocess.PIPE,
                            stderr=subprocess.DEVNULL, text=True, env=mpi_env())
    seen = 0
    for line in proc.stdout:
        seen += "] trial " in line
        if seen >= 2:
            break
    pids = rank_pids(proc.pid)
    proc.kill()
    t0 = time.time()
    proc.wait()
    while any(alive(p) for p in pids.values()) and time.time() - t0 < 30:
        time.sleep(0.001)
    left = [r for r, p in pids.items() if alive(p)]
    for p in pids.values():
        try:
            os.kill(p, signal.SIGKILL)
        except OSError:
            pass
    return time.time() - t0, len(pids), left


def main():
    rounds = int(sys.argv[1]) if len(sys.argv) > 1 else 5
    ws = Workspace("orphans")
    try:
        times = []
        for i in range(rounds):
            t, n, left = one_round(ws, i)
            times.append(t)
            print("round %d: %d ranks, last gone %.3f s after kill -9 of mpirun%s" % (i, n, t, " (still alive: %r)" % left if left else ""))
        print("median %.3f s over %d rounds (load %s)" % (statistics.median(times), rounds, open("/proc/loadavg").read().split()[0]))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main()
