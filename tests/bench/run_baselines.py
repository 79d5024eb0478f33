#!/usr/bin/env python3
"""Train every baseline in configs/archs/ on each dataset for several seeds and tabulate the
test metrics (mean and spread), parameters and training seconds, for docs/results.md.

usage: /usr/bin/python3 tests/bench/run_baselines.py [--ameir build/src/cli/ameir]
           [--shared ../shared/data] [--cache /tmp/ameir-prepared] [--datasets a,b] [--archs x,y]
           [--seeds 1,2,3] [--jobs 2] [--out results.jsonl]

Each run is `ameir train --data DIR --arch FILE --seed S --threads 1 <budget> --json --quiet`;
the exact command is stored with its result. Runs go --jobs at a time (one BLAS thread each)."""
import argparse
import concurrent.futures
import json
import os
import statistics
import subprocess
import sys

ROOT = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))

# dataset config -> raw folder in the shared data, training budget
DATASETS = {
    "synthetic": (None, ["--epochs", "5", "--batch", "256", "--patience", "2"]),
    "criteo-ctr": ("criteo", ["--epochs", "5", "--batch", "256", "--patience", "2"]),
    "frappe-ctr": ("frappe", ["--epochs", "3", "--batch", "256", "--patience", "2"]),
    "ml100k-ctr": ("ml-100k", ["--epochs", "3", "--batch", "256", "--patience", "2"]),
    "taobao-ctr": ("taobao", ["--epochs", "3", "--batch", "256", "--patience", "2"]),
    "beauty-seq": ("amazon-beauty", ["--steps", "1000", "--eval-every", "1000", "--batch", "256"]),
}


def prep(ameir, shared, cache, name):
    out = os.path.join(cache, name)
    if os.path.exists(os.path.join(out, "meta.json")):
        return out
    folder = DATASETS[name][0]
    cmd = [ameir, "prep", "--config", os.path.join(ROOT, "configs", "datasets", name + ".json"), "--out", out]
    if folder:
        cmd += ["--source", os.path.join(shared, folder)]
    print("+", " ".join(cmd), file=sys.stderr)
    subprocess.run(cmd, check=True)
    return out


def train(ameir, data, name, arch, seed):
    cmd = [ameir, "train", "--data", data, "--arch", arch, "--seed", str(seed), "--threads", "1"] + DATASETS[name][1] + ["--json", "--quiet"]
    p = subprocess.run(cmd, capture_output=True, text=True)
    rec = {}
    if p.returncode == 0:
        rec.update(json.loads(p.stdout.strip().splitlines()[-1]))
    else:
        rec["error"] = p.stderr.strip().splitlines()[-1] if p.stderr.strip() else "exit %d" % p.returncode
    rec.update({"dataset": name, "arch_name": os.path.splitext(os.path.basename(arch))[0], "seed": seed, "exit": p.returncode,
                "command": " ".join(cmd)})
    return rec


def applies(arch_name, dataset):
    """Generic baselines run everywhere; NAME-DATASET.json (fields named) only on DATASET;
    product-example.json and product-bench.json are the documentation's examples, not baselines."""
    if arch_name in ("product-example", "product-bench"):
        return False
    for d in DATASETS:
        if arch_name.endswith("-" + d):
            return d == dataset
    return True


def table(records):
    keys = {"ctr": ["auc", "logloss", "gauc"], "seq": ["hr10", "ndcg10", "mrr"]}
    groups = {}
    for r in records:
        if not applies(r["arch_name"], r["dataset"]):
            continue
        groups.setdefault((r["dataset"], r["arch_name"]), []).append(r)
    lines = []
    for (ds, arch), rs in sorted(groups.items()):
        ok = [r for r in rs if r["exit"] == 0]
        if not ok:
            lines.append("| %s | %s | failed: %s | | | |" % (ds, arch, rs[0].get("error", "")))
            continue
        task = "seq" if "hr10" in ok[0]["test"] else "ctr"
        cells = []
        for k in keys[task]:
            v = [r["test"][k] for r in ok if r["test"].get(k) is not None]
            sd = statistics.stdev(v) if len(v) > 1 else 0.0
            cells.append("%s %.4f ± %.4f" % (k, statistics.mean(v), sd) if v else k + " n/a")
        secs = statistics.mean(r["seconds"] for r in ok)
        steps = statistics.mean(r["steps"] for r in ok)
        lines.append("| %s | %s | %s | %d | %.0f | %.1f | %d/%d |" % (ds, arch, " · ".join(cells), ok[0]["params"], steps, secs, len(ok), len(rs)))
    return "\n".join(["| dataset | arch | test metrics (mean ± sd over seeds) | params | steps | train s | runs ok |",
                      "|---|---|---|---|---|---|---|"] + lines)


def main():
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--ameir", default=os.path.join(ROOT, "build", "src", "cli", "ameir"))
    ap.add_argument("--shared", default=os.path.join(ROOT, "..", "shared", "data"))
    ap.add_argument("--cache", default="/tmp/ameir-prepared")
    ap.add_argument("--datasets", default=",".join(DATASETS))
    ap.add_argument("--archs", default="")
    ap.add_argument("--seeds", default="1,2,3")
    ap.add_argument("--jobs", type=int, default=2)
    ap.add_argument("--out", default="baselines.jsonl")
    ap.add_argument("--table", nargs="+", help="only print the table of the results in these JSON-lines files")
    a = ap.parse_args()
    if a.table:
        runs = {}
        for path in a.table:
            with open(path) as f:
                for line in f:
                    if line.strip():
                        r = json.loads(line)
                        runs[(r["dataset"], r["arch_name"], r["seed"])] = r  # a run repeated is the same run
        print(table(list(runs.values())))
        return
    archs = sorted(os.path.join(ROOT, "configs", "archs", f) for f in os.listdir(os.path.join(ROOT, "configs", "archs")) if f.endswith(".json"))
    if a.archs:
        wanted = set(a.archs.split(","))
        archs = [x for x in archs if os.path.splitext(os.path.basename(x))[0] in wanted]
    seeds = [int(s) for s in a.seeds.split(",")]
    records = []
    with open(a.out, "a") as out, concurrent.futures.ThreadPoolExecutor(a.jobs) as pool:
        for name in a.datasets.split(","):
            data = prep(a.ameir, a.shared, a.cache, name)
            futs = [pool.submit(train, a.ameir, data, name, arch, s) for arch in archs for s in seeds
                    if applies(os.path.splitext(os.path.basename(arch))[0], name)]
            for f in futs:
                r = f.result()
                records.append(r)
                out.write(json.dumps(r) + "\n")
                out.flush()
                print("%s %s seed %d: %s" % (r["dataset"], r["arch_name"], r["seed"], r.get("test", r.get("error"))), file=sys.stderr)
    print(table(records))


if __name__ == "__main__":
    main()
