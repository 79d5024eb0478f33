"""One writer per run, with real mpirun jobs on one RUN.h5.

- while a search runs, a second `search --resume RUN.h5` and a fresh `--out RUN.h5` are both
  refused with exit 2 and the holder named (host, rank 0's pid); the first search goes on
  undisturbed and ends with a report identical to an uninterrupted run's;
- `kill -9` of mpirun in the middle of a search, then at once (no sleep) a resume: the ranks
  die with their launcher (none survives it by more than a moment), the resume takes over the
  lock the dead rank 0 left behind and finishes with the same report."""
import os
import socket
import subprocess
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
from test_mpi_common import (TestFailure, Workspace, check, comparable, describe, diff, finished_search, main,  # noqa: E402
                             mpi_env, mpirun_args, rank_pids, report, run, search)


def start(n, args):
    return subprocess.Popen(mpirun_args(n) + ["search"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=mpi_env())


def wait_lines(proc, lines):
    seen, out = 0, []
    for line in proc.stdout:
        out.append(line)
        seen += "] trial " in line
        if seen >= lines:
            return out
    raise TestFailure("the search ended after %d progress lines:\n%s\n%s" % (seen, "".join(out), proc.stderr.read()))


def alive(pid):
    try:
        with open("/proc/%d/stat" % pid) as f:
            return f.read().rsplit(")", 1)[1].split()[0] not in ("Z", "X")
    except OSError:
        return False


def test():
    # the behaviour stage's budgets ten times the usual: the first search runs long enough
    # for both refusals to happen while it runs
    ws = Workspace("lock", {"behavior": {"schedule": {"n": 4, "eta": 2, "r": 2000, "R": 8000}}})
    host = socket.gethostname()
    try:
        ref_h5, _ = finished_search(ws, "reference", 2)
        reference = comparable(report(ref_h5))

        rh5 = os.path.join(ws.run_dir("two"), "RUN.h5")
        first = start(2, ["--config", ws.config, "--out", rh5])
        try:
            out = wait_lines(first, 2)
            pid0 = rank_pids(first.pid).get(0)
            check(pid0, "cannot find rank 0 of the first search")
            for args in (["--resume", rh5], ["--config", ws.config, "--out", rh5]):
                p = run(mpirun_args(2) + ["search"] + args, timeout=120, env=dict(mpi_env(), AMEIR_LOCK_WAIT="0"))
                check(p.returncode == 2, "a second search %r while one runs: expected exit 2: %s" % (args, describe(p)))
                check("in use by another search" in p.stderr and ("host %s, pid %d" % (host, pid0)) in p.stderr,
                      "the refusal should name the holder (host %s, pid %d): %s" % (host, pid0, p.stderr[-2000:]))
                print("refused (%s): %s" % (args[0], [l for l in p.stderr.splitlines() if "in use" in l][0][:300]))
            check(first.poll() is None, "the first search ended before both refusals were tried: make it longer")
            rest, err = first.communicate(timeout=900)
        except BaseException:
            first.kill()
            first.wait()
            raise
        check(first.returncode == 0, "the first search should be unaffected: exit %d\n%s\n%s" % (first.returncode, rest[-2000:], err[-2000:]))
        check(not os.path.exists(rh5 + ".lock"), "the lock should be gone after the search ended")
        d = diff(reference, comparable(report(rh5)))
        check(not d, "the first search's report differs from an uninterrupted run's at %s" % d)

        rh5 = os.path.join(ws.run_dir("kill9"), "RUN.h5")
        victim = start(3, ["--config", ws.config, "--out", rh5])
        try:
            wait_lines(victim, 3)
            pids = rank_pids(victim.pid)
            check(len(pids) == 3, "expected 3 ranks under mpirun, found %r" % pids)
            victim.kill()
            t0 = time.time()
            victim.wait()
            p = search(2, "--resume", rh5)  # at once: the orphans may still be leaving
            check(p.returncode == 0, "a resume right after kill -9 of mpirun: expected exit 0: %s" % describe(p))
            while any(alive(x) for x in pids.values()) and time.time() - t0 < 30:
                time.sleep(0.01)
            left = [r for r, x in pids.items() if alive(x)]
            check(not left, "ranks %r outlived their mpirun by 30 s" % left)
        finally:
            victim.stdout.close()
            victim.stderr.close()
        d = diff(reference, comparable(report(rh5)))
        check(not d, "the resume after kill -9 differs from an uninterrupted run at %s" % d)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_lock", test)
