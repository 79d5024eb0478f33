"""`"method": "oneshot"` under the real mpirun: every stage runs rounds of a supernet trial
and scored trials (candidates scored with the supernet's weights), then trains the best few
and the incumbent alone. The search is the same bit for bit with 1 rank (trials run on rank
0), 3 ranks (two workers: scored trials of one round on either, each loading the supernet
state the round's trial saved) and 4 ranks with train.shards (the supernet trained
data-parallel over a group); a SIGUSR1 in the middle gives exit 3 and the resume with
another N ends as the run with one rank does."""
import glob
import os
import re
import signal

from test_mpi_common import (Workspace, check, comparable, describe, diff, interrupt_after, logged_search, main, report,
                             search)

ONESHOT = {"method": "oneshot", "standalone_top": 2}
GROUP_LINE = re.compile(r"trial (\d+) trains on ranks ([\d,]+), data-parallel over 3 shards")


def fresh(ws, config, name, n):
    """A fresh search that must exit 0; returns (comparable report, raw report, RUN.h5, stderr)."""
    rep, rh5, err = logged_search(ws, config, name, n)
    return comparable(rep), rep, rh5, err


def test():
    ws = Workspace("oneshot", ONESHOT)
    try:
        ref, raw, rh5, _ = fresh(ws, ws.config, "n1", 1)
        by_stage = {st["stage"]: st["trials"] for st in raw["stages"]}
        kinds = [t["kind"] for st in raw["stages"] for t in st["trials"]]
        for stage in ("behavior", "interaction", "mlp"):
            st = by_stage.get(stage, [])
            check(any(t["kind"] == "supernet" for t in st) and any(t["kind"] == "scored" for t in st),
                  "stage %s has no supernet or scored trials: %r" % (stage, [t["kind"] for t in st]))
            alone = [t for t in st if t["kind"] == "search"]
            check(2 <= len(alone) <= 3, "stage %s: %d standalone trials, expected the best 2 and the incumbent" % (stage, len(alone)))
        states = glob.glob(os.path.join(os.path.dirname(rh5), "RUN.trials", "supernet-*.h5"))
        check(len(states) == kinds.count("supernet"), "%d supernet state files for %d supernet trials" % (len(states), kinds.count("supernet")))
        print("N=1: %d trials (%d supernet, %d scored)" % (len(kinds), kinds.count("supernet"), kinds.count("scored")))
        rep, _, _, _ = fresh(ws, ws.config, "n3", 3)
        d = diff(ref, rep)
        check(not d, "report of N=1 and N=3 differ at %s" % d)
        grouped = ws.write_config("grouped.json", dict(ONESHOT, train={"shards": 3}))
        gref, _, _, _ = fresh(ws, grouped, "g1", 1)
        rep, _, _, err = fresh(ws, grouped, "g4", 4)
        groups = GROUP_LINE.findall(err)
        check(groups, "N=4 with shards: no trial trained on a group of ranks")
        d = diff(gref, rep)
        check(not d, "report of N=1 and N=4 (groups) differ at %s" % d)
        print("N=3 and N=4 (%d group trials) equal N=1" % len(groups))
        rh5 = os.path.join(ws.run_dir("usr1"), "RUN.h5")
        code, out, err, seen = interrupt_after(3, ["--config", ws.config, "--out", rh5], 12, "mpirun", signal.SIGUSR1)
        check(code == 3, "SIGUSR1 after %d progress lines: expected exit 3, got %d\n%s\n%s" % (seen, code, out[-3000:], err[-3000:]))
        p = search(2, "--resume", rh5)
        check(p.returncode == 0, "resume with 2 ranks: expected exit 0: %s" % describe(p))
        d = diff(ref, comparable(report(rh5)))
        check(not d, "the interrupted and resumed one-shot search differs from the run with one rank at %s" % d)
        print("SIGUSR1 after %d lines, exit 3, resumed with 2 ranks: same as N=1" % seen)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_oneshot", test)
