"""Prepared datasets as another program sees them: `ameir prep` through the command line,
read back with h5py and json. Checks shapes and dtypes against meta.json, ids against the
vocabularies, the item table, exit code 2 and messages for bad input, byte-identical re-prep,
and (with AMEIR_SHARED_DATA) ml-100k's histories recomputed from the raw u.data."""
import filecmp
import json
import os
import subprocess
import sys
import tempfile

import h5py
import numpy as np

EXE = os.environ["AMEIR_EXE"]
ROOT = os.environ["AMEIR_SOURCE_ROOT"]
DATA = os.environ.get("AMEIR_SHARED_DATA", "")
failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
        print("FAIL:", what, file=sys.stderr)


def prep(config, out, source=None, extra=()):
    cmd = [EXE, "prep", "--config", config, "--out", out] + (["--source", source] if source else []) + list(extra)
    return subprocess.run(cmd, capture_output=True, text=True)


def check_dataset(out):
    meta = json.load(open(os.path.join(out, "meta.json")))
    vocab = json.load(open(os.path.join(out, "vocab.json")))
    check(meta["format"] == "ameir-dataset" and meta["schema_version"] == 1, "meta format/version")
    fields = meta["fields"]
    check(sum(f["width"] for f in fields) == meta["x_width"], "x_width = sum of widths")
    for f in fields:
        check(len(vocab[f["name"]]) == f["vocab"], "vocab.json length of " + f["name"])
        check(vocab[f["name"]][:2] == ["<pad>", "<oov>"], "ids 0/1 of " + f["name"])
    items = None
    if meta["item_field"]:
        with h5py.File(os.path.join(out, "items.h5"), "r") as h:
            items = h["items"][:]
        check(items.shape == (meta["n_items"], meta["item_width"]) and items.dtype == np.int32, "item table shape")
        check((items[0] == 0).all(), "item row 0 is padding")
        it = [f for f in fields if f["name"] == meta["item_field"]][0]
        check((items[2:, it["item_offset"]] == np.arange(2, meta["n_items"])).all(), "item table keyed by item id")
    for split, info in meta["splits"].items():
        total = 0
        for sh in info["shards"]:
            with h5py.File(os.path.join(out, sh["file"]), "r") as h:
                n = sh["rows"]
                check(h["x"].shape == (n, meta["x_width"]) and h["x"].dtype == np.int32, sh["file"] + " x")
                check(h["label"].shape == (n,) and h["label"].dtype == np.float32, sh["file"] + " label")
                check(h["user"].shape == (n,) and h["user"].dtype == np.int64, sh["file"] + " user")
                check(int(h.attrs["first_row"]) == total, sh["file"] + " first_row")
                x = h["x"][:]
                for f in fields:
                    col = x[:, f["offset"]:f["offset"] + f["width"]]
                    check(col.size == 0 or (col.min() >= 0 and col.max() < f["vocab"]), sh["file"] + " ids of " + f["name"])
                if meta["seq_len"]:
                    hist = h["hist"][:]
                    check(hist.shape == (n, meta["seq_len"]), sh["file"] + " hist shape")
                    check(hist.size == 0 or hist.max() < meta["n_items"], sh["file"] + " hist ids")
                    # padding first: once a real event appears, no padding after it
                    real = hist > 0
                    check(not (real[:, :-1] & ~real[:, 1:]).any(), sh["file"] + " padding first")
                    check(items[hist].shape == (n, meta["seq_len"], meta["item_width"]), "hist expands via items")
                if meta["task"] == "seq" and split != "train":
                    cand = h["cand"][:]
                    it = [f for f in fields if f["name"] == meta["item_field"]][0]
                    check(cand.shape == (n, meta["n_candidates"]), sh["file"] + " cand shape")
                    check((cand[:, 0] == x[:, it["offset"]]).all(), sh["file"] + " true item first")
                total += n
        check(total == info["rows"], split + " rows = sum over shards")
    return meta


def test_synthetic(tmp):
    cfg = os.path.join(ROOT, "configs/datasets/synthetic.json")
    a, b = os.path.join(tmp, "a"), os.path.join(tmp, "b")
    r = prep(cfg, a)
    check(r.returncode == 0, "prep synthetic: " + r.stderr)
    meta = check_dataset(a)
    check(meta["splits"]["train"]["rows"] == 30000, "synthetic train rows")
    check(len(meta["synthetic"]["interactions"]) == 3, "ground truth interactions")
    check(0.7 < meta["synthetic"]["oracle_test_auc"] < 1.0, "oracle AUC in range")
    r = prep(cfg, b, extra=["--shards", "3"])
    check(r.returncode == 0, "prep --shards 3")
    with h5py.File(os.path.join(a, "test/shard-000.h5"), "r") as h0, h5py.File(os.path.join(a, "test/shard-001.h5"), "r") as h1:
        xa = np.concatenate([h0["x"][:], h1["x"][:]])
    xb = np.concatenate([h5py.File(os.path.join(b, "test/shard-%03d.h5" % k), "r")["x"][:] for k in range(3)])
    check((xa == xb).all(), "rows independent of the shard count")


def test_bad_cli(tmp):
    src = os.path.join(tmp, "src")
    os.makedirs(src)
    with open(os.path.join(src, "d.csv"), "w") as f:
        f.write("1,a,1\n2,b,0\n3,c\n")
    cfg = os.path.join(tmp, "bad.json")
    conf = {"name": "bad", "task": "ctr",
            "source": {"files": ["d.csv"], "format": "delimited", "sep": ",", "columns": ["u", "i", "y"]},
            "label": {"column": "y", "map": {"0": 0, "1": 1}}, "fields": [{"name": "u"}, {"name": "i"}],
            "split": {"method": "random", "fractions": [0.5, 0.25, 0.25]}}
    json.dump(conf, open(cfg, "w"))
    out = os.path.join(tmp, "bad-out")
    r = prep(cfg, out, src)
    check(r.returncode == 2 and "d.csv:3: 2 columns, expected 3" in r.stderr, "wrong column count: " + r.stderr)
    check(not os.path.exists(out), "nothing written after a failure")
    check(not [p for p in os.listdir(tmp) if ".tmp-" in p], "no temporary dir left")
    conf["fields"][1]["kind"] = "x"
    json.dump(conf, open(cfg, "w"))
    r = prep(cfg, out, src)
    check(r.returncode == 2 and "fields[1].kind: got an unknown key" in r.stderr, "unknown key: " + r.stderr)
    r = subprocess.run([EXE, "prep", "--config", cfg], capture_output=True, text=True)
    check(r.returncode == 2 and "--out" in r.stderr, "missing --out")
    r = subprocess.run([EXE, "prep", "--config", cfg, "--out", out, "--shards", "0"], capture_output=True, text=True)
    check(r.returncode == 2 and "--shards 0" in r.stderr, "bad --shards")
    r = subprocess.run([EXE, "prep", "--help"], capture_output=True, text=True)
    check(r.returncode == 0 and "--config" in r.stdout, "--help")
    r = prep(os.path.join(ROOT, "configs/datasets/ml100k-ctr.json"), out)
    check(r.returncode == 2 and "--source" in r.stderr, "raw dataset without --source")


def test_ml100k(tmp):
    src = os.path.join(DATA, "ml-100k")
    if not os.path.isdir(src):
        print("ml-100k part skipped: no", src)
        return
    cfg = os.path.join(ROOT, "configs/datasets/ml100k-ctr.json")
    a, b = os.path.join(tmp, "ml-a"), os.path.join(tmp, "ml-b")
    check(prep(cfg, a, src).returncode == 0, "prep ml100k-ctr")
    check(prep(cfg, b, src).returncode == 0, "prep ml100k-ctr again")
    cmp = filecmp.dircmp(a, b)
    names = ["meta.json", "vocab.json", "items.h5"] + ["%s/shard-%03d.h5" % (s, k) for s in ("train", "valid", "test") for k in range(2)]
    check(all(filecmp.cmp(os.path.join(a, n), os.path.join(b, n), shallow=False) for n in names), "byte-identical re-prep")
    del cmp
    meta = check_dataset(a)
    check(sum(s["rows"] for s in meta["splits"].values()) == 100000, "100,000 ratings")
    vocab = json.load(open(os.path.join(a, "vocab.json")))
    movie_id = {v: i for i, v in enumerate(vocab["movie"]) if i >= 2}
    # raw events of each user, in (time, line) order
    events = {}
    rating = {}
    for line_no, line in enumerate(open(os.path.join(src, "u.data"))):
        u, m, r, t = line.split("\t")
        events.setdefault(u, []).append((int(t), line_no, m))
        rating[(u, m)] = int(r)
    for u in events:
        events[u].sort()
    fields = {f["name"]: f for f in meta["fields"]}
    uo, mo = fields["user"]["offset"], fields["movie"]["offset"]
    bad_hist = bad_label = checked = 0
    shards = [h5py.File(os.path.join(a, sh["file"]), "r") for sh in meta["splits"]["valid"]["shards"]]
    x, hist, label = (np.concatenate([h[k][:] for h in shards]) for k in ("x", "hist", "label"))
    for k in range(len(x)):
        u, m = vocab["user"][x[k, uo]], vocab["movie"][x[k, mo]]
        if u == "<oov>" or m == "<oov>":
            continue
        t = [e[0] for e in events[u] if e[2] == m][0]
        earlier = [e[2] for e in events[u] if e[0] < t][-20:]
        want = [0] * (20 - len(earlier)) + [movie_id.get(e, 1) for e in earlier]
        bad_hist += list(hist[k]) != want
        bad_label += float(rating[(u, m)] >= 4) != label[k]
        checked += 1
    print("ml-100k valid rows checked against u.data: %d" % checked)
    check(checked > 9000, "most valid rows checked")
    check(bad_hist == 0, "ml-100k histories = earlier ratings (%d differ)" % bad_hist)
    check(bad_label == 0, "ml-100k labels = rating >= 4 (%d differ)" % bad_label)


def main():
    with tempfile.TemporaryDirectory(prefix="ameir-h5py-") as tmp:
        test_synthetic(tmp)
        test_bad_cli(tmp)
        test_ml100k(tmp)
    if failures:
        print("test_h5py: %d checks failed" % len(failures), file=sys.stderr)
        return 1
    print("test_h5py: all checks passed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
