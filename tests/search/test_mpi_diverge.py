"""A trial whose loss becomes NaN or infinite is marked diverged, one over the time limit
is marked timeout, and the search goes on.

AMEIR_TEST_DIVERGE_TRIAL=ID (a test hook, docs/running.md) trains search trial ID with a
learning rate of 3e38, so its weights and loss really overflow and the trainer's own check
fires. The search must finish (exit 0) with that trial diverged, never promoted (no trial
continues from it), and every other trial done. With a trial_time_limit far below a
trial's training time every search trial times out; the stages then keep their incumbent
(warm start: the best baseline) and the finals (not time-limited) still run."""
import os
import sys

from test_mpi_common import Workspace, check, describe, last_json, main, report, search

DIVERGE = 2  # a rung-0 trial of the behaviour stage


def test():
    if os.environ.get("AMEIR_TEST_HOOKS") != "1":
        print("test_mpi_diverge: skipped: the build has no test hooks (meson configure -Dtest_hooks=true; "
              "launch/test.sh does it)", file=sys.stderr)
        sys.exit(77)
    ws = Workspace("diverge")
    try:
        rh5 = os.path.join(ws.run_dir("run"), "RUN.h5")
        os.environ["AMEIR_TEST_DIVERGE_TRIAL"] = str(DIVERGE)
        try:
            p = search(2, "--config", ws.config, "--out", rh5, "--json")
        finally:
            del os.environ["AMEIR_TEST_DIVERGE_TRIAL"]
        check(p.returncode == 0, "search with a diverging trial: expected exit 0: " + describe(p))
        check(any("trial %d candidate" % DIVERGE in l and "diverged" in l for l in p.stdout.splitlines()),
              "the progress line of trial %d should say diverged:\n%s" % (DIVERGE, p.stdout[:3000]))
        res = last_json(p)
        check(res["trials"]["diverged"] == 1 and res["trials"]["done"] == res["trials"]["total"] - 1,
              "expected exactly one diverged trial, the others done: %r" % res["trials"])
        trials = [t for st in report(rh5)["stages"] for t in st["trials"]]
        bad = [t for t in trials if t["trial"] == DIVERGE][0]
        check(bad["status"] == "diverged" and bad["metric"] is None, "trial %d in the report: %r" % (DIVERGE, bad))
        check(not [t for t in trials if t["parent"] == DIVERGE], "a diverged trial must not be promoted")
        check(res["winner"]["status"] == "done", "the search should still produce a winner: %r" % res["winner"])

        slow = ws.write_config("slow.json", {"trial_time_limit": 0.001})
        rh5 = os.path.join(ws.run_dir("timeout"), "RUN.h5")
        p = search(2, "--config", slow, "--out", rh5, "--json")
        check(p.returncode == 0, "search with a tiny time limit: expected exit 0: " + describe(p))
        res = last_json(p)
        finals = len(res["baselines"]) + len(res["finalists"])
        check(res["trials"]["timeout"] == res["trials"]["total"] - finals and res["trials"]["done"] == finals,
              "expected every search trial to time out and the finals to finish: %r" % res["trials"])
        check(all(w["trial"] is None for w in res["stage_winners"]), "no stage should have a winner: %r" % res["stage_winners"])
        check(not res["finalists"], "the only finalist is the incumbent, a baseline trained already: %r" % res["finalists"])
        best = max(res["baselines"], key=lambda b: b["valid"]["auc"])
        check(res["winner"]["arch"] == best["arch"],
              "with no stage winner the winner is the best baseline on validation (the warm start's incumbent)")
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_diverge", test)
