#!/usr/bin/env python3
"""Run the shipped search of each dataset for several seeds and tabulate, for
docs/search-results.md, the wall time, the trials, the winner's test metric against each
baseline (trained in the same final phase, same budget and seed) and the ratio of a search's
wall time to one baseline's training.

usage: /usr/bin/python3 tests/bench/run_searches.py run --datasets ml100k-ctr,frappe-ctr [--seeds 1,2,3]
           [--ameir build/src/cli/ameir] [--np 3] [--nice 5] [--out runs/searches] [--final-seeds N]
       /usr/bin/python3 tests/bench/run_searches.py table [--out runs/searches]

`run` expects the data prepared by `ameir prep` in runs/data/NAME (see each config's
description). Per dataset and seed it writes OUT/NAME/seedS/search.json (the shipped config
with "seed" S and absolute paths), runs `nice -n N mpirun -np K --oversubscribe ameir search
--config ... --out OUT/NAME/seedS/RUN.h5 --json`, samples the load average every 30 s, and
appends one JSON line to OUT/results.jsonl; an unfinished RUN.h5 is resumed (`--resume`), a
finished one skipped. `table` prints the markdown tables (wall = the last session's)."""
import argparse
import json
import math
import os
import statistics
import subprocess
import sys
import threading
import time

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))


def config_for(name, seed, out_dir, final_seeds=None):
    path = os.path.join(ROOT, "configs", "search", name + ".json")
    with open(path) as f:
        cfg = json.load(f)
    cfg["seed"] = seed
    if final_seeds is not None:  # a shorter final phase, said in the search.json it writes
        cfg["final_seeds"] = final_seeds
    here = os.path.dirname(path)
    cfg["data"] = os.path.normpath(os.path.join(here, cfg["data"]))  # a variant (NAME-oneshot) shares NAME's data
    cfg["baselines"] = [os.path.normpath(os.path.join(here, b)) for b in cfg.get("baselines", [])]
    os.makedirs(out_dir, exist_ok=True)
    dst = os.path.join(out_dir, "search.json")
    with open(dst, "w") as f:
        json.dump(cfg, f, indent=1)
    return dst


def env():
    e = dict(os.environ)
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    e.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    return e


def primary(task):
    return "ndcg10" if task == "seq" else "auc"


def outcome(ameir, rh5):
    """The search's outcome from `ameir report RH5 --json`: the winner, the finalists and the
    baselines (each training, with its seed and, for final_seeds > 1, its contender's mean
    over seeds), the stage winners and the trial counts; {} if there is no report."""
    rep = subprocess.run([ameir, "report", rh5, "--json"], stdout=subprocess.PIPE, text=True, env=env())
    try:
        r = json.loads(rep.stdout.strip().splitlines()[-1])
    except (ValueError, IndexError):
        return {}
    m = r["metric"]
    finals = [t for st in r["stages"] if st["stage"] == "final" for t in st["trials"]]
    secs = {t["trial"]: t["seconds"] for t in finals}

    def entry(e):
        keep = ("name", "trial", "seed", "valid", "test", "steps", "over_seeds", "arch")
        d = {k: e.get(k) for k in keep if k in e}
        d["seconds"] = secs.get(e.get("trial"))
        return d

    line = {"trials": r["trials"], "metric": m, "stage_winners": r["stage_winners"], "winner": entry(r["winner"]),
            "finalists": [entry(f) for f in r.get("finalists", [])], "baselines": [entry(b) for b in r["baselines"]]}
    search = [t for st in r["stages"] if st["stage"] != "final" for t in st["trials"]]
    line["search_trials"] = len(search)
    line["search_seconds"] = sum(t["seconds"] for t in search)
    # per stage: candidates compared (rung-0 trials: trained, or scored with supernet weights),
    # candidates trained alone, and the seconds its trials took (summed over the workers)
    line["stages"] = {st["stage"]: {
        "candidates": sum(1 for t in st["trials"] if t["rung"] == 0 and t["kind"] in ("search", "scored")),
        "alone": len({json.dumps(t["arch"], sort_keys=True) for t in st["trials"] if t["kind"] == "search"}),
        "trial_seconds": sum(t["seconds"] for t in st["trials"])} for st in r["stages"] if st["stage"] != "final"}
    return line


def run_one(a, name, seed):
    out_dir = os.path.join(a.out, name, "seed%d" % seed)
    rh5 = os.path.join(out_dir, "RUN.h5")
    resume = os.path.exists(rh5)
    if resume:  # an interrupted search continues from its checkpoint; a finished one is skipped
        rep = subprocess.run([a.ameir, "report", rh5, "--json"], stdout=subprocess.PIPE, text=True, env=env())
        try:
            done = json.loads(rep.stdout.strip().splitlines()[-1])["winner"].get("status") == "done"
        except (ValueError, IndexError, KeyError):
            done = False
        if done:
            print("%s seed %d: %s is finished, skipped" % (name, seed, rh5), file=sys.stderr)
            return None
    cfg = config_for(name, seed, out_dir, a.final_seeds) if not resume else None
    run_args = ["--resume", rh5] if resume else ["--config", cfg, "--out", rh5]
    cmd = ["nice", "-n", str(a.nice), "mpirun", "-np", str(a.np), "--oversubscribe", a.ameir, "search"] + run_args + ["--json"]
    loads, stop = [], threading.Event()

    def sample():
        while True:
            loads.append(os.getloadavg()[0])
            if stop.wait(30):
                return

    th = threading.Thread(target=sample, daemon=True)
    th.start()
    t0 = time.time()
    with open(os.path.join(out_dir, "search.log"), "a") as log:
        print("+ " + " ".join(cmd), file=log, flush=True)
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=log, text=True, env=env())
        log.write(p.stdout)
    wall = time.time() - t0
    stop.set()
    th.join()
    line = {"dataset": name, "seed": seed, "command": " ".join(cmd), "exit": p.returncode, "wall_s": wall, "resumed": resume,
            "load_mean": statistics.mean(loads) if loads else None, "load_max": max(loads) if loads else None}
    line.update(outcome(a.ameir, rh5))
    with open(os.path.join(a.out, "results.jsonl"), "a") as f:
        f.write(json.dumps(line) + "\n")
    return line


def cmd_run(a):
    os.makedirs(a.out, exist_ok=True)
    for name in a.datasets.split(","):
        for seed in [int(s) for s in a.seeds.split(",")]:
            line = run_one(a, name, seed)
            if line:
                w = line.get("winner", {})
                m = line.get("metric", "auc")
                print("%s seed %d: exit %d, %.0f s, load %.1f, winner test %s %s" % (
                    name, seed, line["exit"], line["wall_s"], line["load_mean"] or -1, m,
                    (w.get("test") or {}).get(m)), flush=True)


def ms(v):
    v = [x for x in v if x is not None]
    if not v:
        return "-"
    if len(v) == 1:
        return "%.4f" % v[0]
    return "%.4f ± %.4f" % (statistics.mean(v), statistics.stdev(v))


def first_seed(entries):
    """The first training of each contender or baseline (the config's seed): one per trial
    arch, in order; with final_seeds > 1 the other seeds' entries follow it in the JSON."""
    seen, out = set(), []
    for e in entries:
        key = e.get("name") or json.dumps(e.get("arch"), sort_keys=True)
        if key in seen:
            continue
        seen.add(key)
        out.append(e)
    return out


def cmd_table(a):
    rows = {}
    with open(os.path.join(a.out, "results.jsonl")) as f:
        for l in f:
            r = json.loads(l)
            rows.setdefault(r["dataset"], {})[r["seed"]] = r  # the last run of a seed counts
    for name, by_seed in rows.items():  # the outcome as the checkpoint has it now (report's current fields)
        for seed, r in by_seed.items():
            rh5 = os.path.join(a.out, name, "seed%d" % seed, "RUN.h5")
            if os.path.exists(rh5):
                r.update(outcome(a.ameir, rh5))
    for name, by_seed in rows.items():
        runs = [by_seed[s] for s in sorted(by_seed) if by_seed[s].get("winner")]
        if not runs:
            continue
        m = runs[0]["metric"]
        print("\n### %s (test %s; seeds %s)\n" % (name, m, ", ".join(str(r["seed"]) for r in runs)))
        print("| seed | wall | trials (search + final) | load avg (mean, max) | winner valid | winner test | best baseline (test) | search wall / mean baseline fit |")
        print("|---|---|---|---|---|---|---|---|")
        for r in runs:  # a baseline's first training (the config's seed), as the winner's
            bl = [b for b in first_seed(r["baselines"]) if b.get("test")]
            best = max(bl, key=lambda b: b["test"][m]) if bl else None
            fit = statistics.mean(b["seconds"] for b in bl) if bl else float("nan")
            print("| %d | %dm%02ds | %d (%d + %d) | %.1f, %.1f | %.4f | %.4f | %s %.4f | %.1f |" % (
                r["seed"], r["wall_s"] // 60, r["wall_s"] % 60, r["trials"]["total"], r["search_trials"],
                r["trials"]["total"] - r["search_trials"], r["load_mean"], r["load_max"], r["winner"]["valid"][m],
                r["winner"]["test"][m], best["name"] if best else "-", best["test"][m] if best else float("nan"),
                r["wall_s"] / fit))
        if all(r.get("stages") for r in runs):
            print("\n| seed | stage | candidates compared | trained alone | trial-seconds |")
            print("|---|---|---|---|---|")
            for r in runs:
                for st, v in r["stages"].items():
                    print("| %d | %s | %d | %d | %.0f |" % (r["seed"], st, v["candidates"], v["alone"], v["trial_seconds"]))
        print("\n| arch | test %s (mean ± sd) | valid %s | steps | fit seconds |" % (m, m))
        print("|---|---|---|---|---|")
        print("| **search winner** | %s | %s | %s | %s |" % (
            ms([r["winner"]["test"][m] for r in runs]), ms([r["winner"]["valid"][m] for r in runs]),
            "/".join(str(r["winner"]["steps"]) for r in runs), "/".join("%.0f" % (r["winner"]["seconds"] or 0) for r in runs)))
        names = [b["name"] for b in first_seed(runs[0]["baselines"])]
        for n in names:
            bs = [next((b for b in r["baselines"] if b["name"] == n), None) for r in runs]
            bs = [b for b in bs if b and b.get("test")]
            print("| %s | %s | %s | %s | %s |" % (n, ms([b["test"][m] for b in bs]), ms([b["valid"][m] for b in bs]),
                                              "/".join(str(b["steps"]) for b in bs), "/".join("%.0f" % b["seconds"] for b in bs)))
        if any(r["winner"].get("over_seeds") for r in runs):  # final_seeds > 1: the contenders over their seeds
            print("\n| seed | contender | trainings | valid %s, mean ± sd | test %s, mean ± sd | won |" % (m, m))
            print("|---|---|---|---|---|---|")
            for r in runs:
                for c in first_seed(r["finalists"] + r["baselines"]):
                    o = c.get("over_seeds")
                    if not o or o["seeds"] < 2:
                        continue
                    print("| %d | %s | %d | %.4f ± %.4f | %.4f ± %.4f | %s |" % (
                        r["seed"], c.get("name", "finalist (trial %d)" % c["trial"]), o["seeds"], o["valid_mean"],
                        o["valid_sd"], o["test_mean"], o["test_sd"], "yes" if c["trial"] == r["winner"]["trial"] else ""))


def main():
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("what", choices=["run", "table"])
    ap.add_argument("--datasets", default="ml100k-ctr,frappe-ctr,taobao-ctr,beauty-seq")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--ameir", default=os.path.join(ROOT, "build", "src", "cli", "ameir"))
    ap.add_argument("--np", type=int, default=3)
    ap.add_argument("--nice", type=int, default=5)
    ap.add_argument("--out", default=os.path.join(ROOT, "runs", "searches"))
    ap.add_argument("--final-seeds", type=int, default=None, help="override the config's final_seeds")
    a = ap.parse_args()
    cmd_run(a) if a.what == "run" else cmd_table(a)


if __name__ == "__main__":
    main()
