"""A 3-rank search on the synthetic dataset: it finishes, its winner beats the default
architecture (the config's defaults, trained as a baseline under the same final budget),
it leaves best_arch.json and a usable best_model.h5, `ameir report` draws it, and the
command refuses what it must: an existing RUN.h5 without --resume, a resume with an edited
config, bad usage."""
import json
import os

from test_mpi_common import EXE, Workspace, check, describe, finished_search, last_json, main, report, run, search


def test():
    ws = Workspace("search")
    try:
        rh5, p = finished_search(ws, "run", 3, "--json")
        out = os.path.dirname(rh5)
        progress = [l for l in p.stdout.splitlines() if "] trial " in l]
        res = last_json(p)
        check(len(progress) == res["trials"]["total"],
              "expected one progress line per trial: %d lines, %d trials" % (len(progress), res["trials"]["total"]))
        check("workers waited" in p.stdout, "expected the workers' waiting share in the summary:\n" + p.stdout[-2000:])
        check(res["trials"]["done"] == res["trials"]["total"], "every trial should be done: %r" % res["trials"])
        win, base = res["winner"], res["baselines"]
        check(win["status"] == "done", "winner's final training: %r" % win)
        check(len(base) == 1 and base[0]["name"] == "test_mpi_default_arch", "expected the default-arch baseline: %r" % base)
        wv, dv = win["valid"]["auc"], base[0]["valid"]["auc"]
        print("winner valid auc %.5f test auc %.5f; default arch valid auc %.5f test auc %.5f"
              % (wv, win["test"]["auc"], dv, base[0]["test"]["auc"]))
        check(wv > dv, "the winner's valid AUC %.5f should beat the default architecture's %.5f" % (wv, dv))

        # no stage ends below its incumbent: the incumbent competes up to the stage's last rung,
        # where the stage winner scores at least as well at the same budget on the same rows
        check(any(" incumbent budget " in l for l in progress), "progress lines should mark the incumbent")
        rep = report(rh5)
        trials = {t["trial"]: t for st in rep["stages"] for t in st["trials"]}
        for sw in rep["stage_winners"]:
            w = trials[sw["trial"]]
            inc = [t for t in trials.values() if t["role"] == "incumbent" and t["rung"] == w["rung"]
                   and t["budget"] == w["budget"] and t["arch"] and t["status"] == "done"]
            inc = [t for t in inc if any(x["trial"] == t["trial"] for x in next(s["trials"] for s in rep["stages"] if s["stage"] == sw["stage"]))]
            check(len(inc) == 1, "stage %s: the last rung should hold the incumbent: %r" % (sw["stage"], inc))
            print("stage %s: winner trial %d score %.5f, incumbent trial %d score %.5f (budget %d, valid rows %s)"
                  % (sw["stage"], w["trial"], w["score"], inc[0]["trial"], inc[0]["score"], w["budget"], w["valid_rows"] or "all"))
            check(w["score"] >= inc[0]["score"], "stage %s ended below its incumbent" % sw["stage"])
            check(w["valid_rows"] == 0, "a stage's last rung scores on the whole validation split")
        behavior = next(s["trials"] for s in rep["stages"] if s["stage"] == "behavior")
        check(any(t["valid_rows"] == 1500 for t in behavior), "lower behaviour rungs should score on 1500 rows")
        check(len(res["finalists"]) == 2 and all(f["valid"]["auc"] <= win["valid"]["auc"] for f in res["finalists"]),
              "the winner is the best of the 2 finalists on validation: %r" % res["finalists"])

        # best files beside RUN.h5: the arch is the winner's, the model evaluates to its test metric
        with open(os.path.join(out, "best_arch.json")) as f:
            check(json.load(f) == win["arch"], "best_arch.json differs from the winner's arch")
        model = os.path.join(out, "best_model.h5")
        check(os.path.exists(model), "best_model.h5 missing beside RUN.h5")
        e = run([EXE, "eval", "--data", ws.data, "--model", model, "--split", "test", "--json"])
        check(e.returncode == 0, "ameir eval of best_model.h5 failed: " + describe(e))
        auc = last_json(e).get("test", {}).get("auc")
        check(auc is not None and abs(auc - win["test"]["auc"]) < 1e-6,
              "ameir eval gives test auc %r, the search recorded %r" % (auc, win["test"]["auc"]))

        # report: the same winner, a leaderboard per stage, and a plot with the three stages
        check(rep["winner"] == win, "report's winner differs from the search's")
        svg = os.path.join(out, "search.svg")
        r = run([EXE, "report", rh5, "--svg", svg])
        check(r.returncode == 0, "ameir report --svg failed: " + describe(r))
        for stage in ("behavior", "interaction", "mlp"):
            check("== stage %s" % stage in r.stdout, "report lacks the %s leaderboard:\n%s" % (stage, r.stdout))
        with open(svg) as f:
            text = f.read()
        check(text.startswith("<?xml") and text.rstrip().endswith("</svg>"), "not a complete SVG file")
        check(text.count("<circle") >= res["trials"]["total"] - len(base) - 1, "the plot should have a point per trial")
        check("rung 1, budget" in text and "trial id" in text, "the plot lacks rung boundaries or axis labels")

        # refusals: existing RUN.h5, edited config on resume, bad usage
        p = search(2, "--config", ws.config, "--out", rh5)
        check(p.returncode == 2 and "--resume" in p.stderr, "an existing RUN.h5 must be refused with exit 2: " + describe(p))
        edited = ws.write_config("edited.json", {"seed": 8})
        p = search(2, "--resume", rh5, "--config", edited)
        check(p.returncode == 2 and "differs from the one" in p.stderr,
              "a resume with an edited config must be refused with exit 2: " + describe(p))
        p = search(1, "--resume", rh5, "--config", ws.config)
        check(p.returncode == 0 and "0 to run again" in p.stdout,
              "a resume of a finished search with its own config should do nothing and succeed: " + describe(p))
        p = run([EXE, "search", "--config", ws.config])
        check(p.returncode == 2 and "--out RUN.h5" in p.stderr, "a missing --out must be bad usage: " + describe(p))
        p = run([EXE, "search", "--resume", rh5, "--out", rh5])
        check(p.returncode == 2 and "exclude each other" in p.stderr, "--out with --resume must be bad usage: " + describe(p))
        p = search(2, "--resume", os.path.join(ws.dir, "nothing.h5"))
        check(p.returncode == 2 and "nothing.h5" in p.stderr, "a missing checkpoint must be refused with exit 2: " + describe(p))
        nodata = ws.write_config("nodata.json", {"data": os.path.join(ws.dir, "no-such-data")})
        p = search(2, "--config", nodata, "--out", os.path.join(ws.dir, "nodata.h5"))
        check(p.returncode == 2 and "no-such-data" in p.stderr, "missing data must be refused with exit 2 naming it: " + describe(p))
        p = run([EXE, "report"])
        check(p.returncode == 2 and "expected the checkpoint" in p.stderr, "report without RUN.h5 must be bad usage: " + describe(p))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_search", test)
