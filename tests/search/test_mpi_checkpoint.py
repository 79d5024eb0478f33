"""A damaged checkpoint is refused and the previous one still resumes.

A finished 2-rank search is the reference. Its RUN.h5 is then truncated: `--resume RUN.h5`
must exit 2 naming RUN.h5.prev; `--resume RUN.h5.prev` must finish (re-running only the
trials that .prev, the whole write before the last, lacks), keep the damaged file as
RUN.h5.bad, and end with the same report as before the damage. `ameir report` refuses the damaged file the same way."""
import os

from test_mpi_common import EXE, Workspace, check, comparable, describe, diff, finished_search, main, report, run, search


def test():
    ws = Workspace("checkpoint")
    try:
        rh5, _ = finished_search(ws, "run", 2)
        reference = comparable(report(rh5))
        check(os.path.exists(rh5 + ".prev"), "RUN.h5.prev should exist after the search")
        finished = lambda rep: {t["trial"] for t in rep["trials"] if t["status"] != "pending"}
        lacks = finished(reference) - finished(comparable(report(rh5 + ".prev")))
        check(lacks, "RUN.h5.prev should lack the results of the last whole write")

        size = os.path.getsize(rh5)
        with open(rh5, "r+b") as f:
            f.truncate(size // 2)
        p = search(2, "--resume", rh5)
        check(p.returncode == 2, "resume of a truncated checkpoint: expected exit 2: " + describe(p))
        check(".prev" in p.stderr, "the refusal should point at RUN.h5.prev:\n" + p.stderr[-2000:])
        r = run([EXE, "report", rh5])
        check(r.returncode == 2, "report of a truncated checkpoint: expected exit 2: " + describe(r))

        p = search(2, "--resume", rh5 + ".prev")
        check(p.returncode == 0, "resume from RUN.h5.prev: expected exit 0: " + describe(p))
        check(os.path.exists(rh5 + ".bad"), "the damaged RUN.h5 should be kept as RUN.h5.bad")
        reruns = {int(l.split("] trial ")[1].split()[0]) for l in p.stdout.splitlines() if "] trial " in l}
        check(reruns == lacks, "resuming from .prev should re-run exactly the trials it lacks %s, ran %s" %
              (sorted(lacks), sorted(reruns)))
        d = diff(reference, comparable(report(rh5)))
        check(not d, "the search resumed from RUN.h5.prev differs from the original at " + d)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_checkpoint", test)
