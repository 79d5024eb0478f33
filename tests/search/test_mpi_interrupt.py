"""Interrupted searches resume to the same end as an uninterrupted one.

- SIGUSR1 to mpirun (what SLURM's --signal does; mpirun forwards it to every rank) after a
  few progress lines: exit 3, then a resume with another N;
- SIGTERM to rank 0 alone, during the final phase: exit 3 (rank 0 stops the workers), then a
  resume with one rank;
- SIGUSR1 during the final phase with AMEIR_STOP_GRACE=0: rank 0 does not wait for a worker
  busy in a final trial (whose training cannot stop half-way) and ends the job with
  MPI_Abort(3): exit 3 all the same, then a resume with three ranks.
Both end with `ameir report --json` equal to an uninterrupted run's."""
import os
import signal

from test_mpi_common import (Workspace, check, comparable, describe, diff, finished_search, interrupt_after, main, report,
                             search)


def interrupted_then_resumed(ws, name, n_first, lines, target, sig, n_resume, reference, extra_env=None):
    rh5 = os.path.join(ws.run_dir(name), "RUN.h5")
    code, out, err, seen = interrupt_after(n_first, ["--config", ws.config, "--out", rh5], lines, target, sig,
                                           extra_env=extra_env)
    check(code == 3, "%s: %s after %d progress lines: expected exit 3, got %d\n%s\n%s" % (name, sig.name, seen, code, out[-3000:], err[-3000:]))
    check("interrupted by" in err and "--resume" in err, "%s: expected the interruption message on stderr:\n%s" % (name, err[-3000:]))
    if extra_env and extra_env.get("AMEIR_STOP_GRACE") == "0":
        check("still busy" in err, "%s: expected rank 0 to end the job without waiting:\n%s" % (name, err[-3000:]))
    mid = report(rh5)
    done = mid["trials"]["done"]
    check(done < mid["trials"]["total"] or mid["winner"].get("status") != "done",
          "%s: the interrupted search should not be complete: %r" % (name, mid["trials"]))
    print("%s: %s after %d lines -> exit 3 with %d of %d trials done" % (name, sig.name, seen, done, mid["trials"]["total"]))
    p = search(n_resume, "--resume", rh5)
    check(p.returncode == 0, "%s: resume with %d ranks: expected exit 0: %s" % (name, n_resume, describe(p)))
    check("resuming" in p.stdout, "%s: the resume should say what it continues:\n%s" % (name, p.stdout[:2000]))
    d = diff(reference, comparable(report(rh5)))
    check(not d, "%s: the resumed search differs from the uninterrupted one at %s" % (name, d))


def test():
    ws = Workspace("interrupt")
    try:
        ref_h5, _ = finished_search(ws, "reference", 2)
        reference = comparable(report(ref_h5))
        total = len(reference["trials"])
        interrupted_then_resumed(ws, "usr1", 3, 6, "mpirun", signal.SIGUSR1, 2, reference)
        # the last progress line before the finals' results: a final trial is in flight
        finals = sum(1 for t in reference["trials"] if t["kind"] != "search")
        interrupted_then_resumed(ws, "term-rank0", 2, total - finals, "rank0", signal.SIGTERM, 1, reference)
        interrupted_then_resumed(ws, "usr1-abort", 2, total - finals, "mpirun", signal.SIGUSR1, 3, reference,
                                 {"AMEIR_STOP_GRACE": "0"})
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_interrupt", test)
