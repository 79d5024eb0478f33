"""The coordinator's watchdog, with a real SIGSTOP of a worker process.

A 3-rank search with a trial time limit of 20 s and AMEIR_WATCHDOG_GRACE=2: after a few
progress lines rank 1 is stopped with SIGSTOP (it never runs again). Rank 0 must report it
on its log ("watchdog: rank 1 has been silent ..."), write the checkpoint and end the job
with exit 3 (resumable) instead of waiting forever; a resume with 2 ranks then finishes with
a report identical to an uninterrupted run's (the stopped rank's trial is trained again)."""
import os
import signal
import subprocess
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
from test_mpi_common import (TestFailure, Workspace, check, comparable, describe, diff, finished_search, main,  # noqa: E402
                             mpi_env, mpirun_args, rank_pids, report, search)

LIMIT, GRACE = 20, 2


def test():
    ws = Workspace("watchdog", {"trial_time_limit": LIMIT})
    try:
        ref_h5, _ = finished_search(ws, "reference", 2)
        reference = comparable(report(ref_h5))
        rh5 = os.path.join(ws.run_dir("stopped"), "RUN.h5")
        env = dict(mpi_env(), AMEIR_WATCHDOG_GRACE=str(GRACE))
        proc = subprocess.Popen(mpirun_args(3) + ["search", "--config", ws.config, "--out", rh5], stdout=subprocess.PIPE,
                                stderr=subprocess.PIPE, text=True, env=env)
        stopped = None
        try:
            seen, out = 0, []
            for line in proc.stdout:
                out.append(line)
                seen += "] trial " in line
                if seen >= 3:
                    break
            check(seen >= 3, "the search ended before the stop:\n%s" % "".join(out))
            stopped = rank_pids(proc.pid).get(1)
            check(stopped, "cannot find rank 1")
            os.kill(stopped, signal.SIGSTOP)
            t0 = time.time()
            rest, err = proc.communicate(timeout=LIMIT + GRACE + 120)
            took = time.time() - t0
        finally:
            if proc.poll() is None:
                proc.kill()
                proc.wait()
            if stopped:
                for sig in (signal.SIGCONT, signal.SIGKILL):
                    try:
                        os.kill(stopped, sig)
                    except OSError:
                        pass
        check(proc.returncode == 3, "a stopped worker: expected exit 3, got %d\n%s\n%s" % (proc.returncode, rest[-2000:], err[-3000:]))
        check("watchdog: rank 1 has been silent" in err, "rank 0 should report the stalled worker:\n%s" % err[-3000:])
        check("interrupted by the watchdog" in err and "--resume" in err, "expected the resume hint:\n%s" % err[-3000:])
        print("rank 1 stopped: exit 3 after %.1f s (limit %d s + grace %d s): %s" % (
            took, LIMIT, GRACE, [l for l in err.splitlines() if "watchdog:" in l][0]))
        p = search(2, "--resume", rh5)
        check(p.returncode == 0, "resume after the watchdog: expected exit 0: %s" % describe(p))
        d = diff(reference, comparable(report(rh5)))
        check(not d, "the resumed search differs from the uninterrupted one at %s" % d)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_watchdog", test)
