"""Parallel prep on the real mpirun: `mpirun -np N ameir prep` writes the same bytes, file for
file, as `ameir prep` alone, for N = 1, 2, 3: byte slices that cut files and lines (criteo-tiny,
two files pooled and split at random; avazu, three files with a header; frappe, libfm with
users and an item table), shards whose rows span ranks (--shards 5), and whole files (a quoted
CSV with separators and newlines inside cells, and a gzip file), and taobao-ctr (histories: a
prep that rank 0 runs alone while the others wait). A bad row read by the last
rank fails every rank with exit 2 and the same file:line as alone, leaves no output and no
temporary directory, and does not hang. Skips (77) without the shared data."""
import filecmp
import gzip
import json
import os
import random
import shutil
import sys
import tempfile

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "search"))
from test_mpi_common import EXE, MPIRUN, ROOT, check, describe, main, mpi_env, run  # noqa: E402

DATA = os.environ.get("AMEIR_SHARED_DATA", "")


def same_tree(a, b):
    """The relative paths whose bytes differ (or exist on one side only)."""
    diff = []
    for base, _, files in os.walk(a):
        for f in files:
            pa = os.path.join(base, f)
            pb = os.path.join(b, os.path.relpath(pa, a))
            if not os.path.exists(pb) or not filecmp.cmp(pa, pb, shallow=False):
                diff.append(os.path.relpath(pa, a))
    for base, _, files in os.walk(b):
        for f in files:
            if not os.path.exists(os.path.join(a, os.path.relpath(os.path.join(base, f), b))):
                diff.append(os.path.relpath(os.path.join(base, f), b))
    return diff


def prep(tmp, name, config, source, ranks, extra=()):
    out = os.path.join(tmp, "%s-np%s" % (name, ranks or "alone"))
    args = [EXE, "prep", "--config", config, "--source", source, "--out", out] + list(extra)
    if ranks:
        args = [MPIRUN, "-np", str(ranks), "--oversubscribe"] + args
    env = mpi_env() if ranks else dict(os.environ, AMEIR_LOG="warn")
    return out, run(args, timeout=300, env=env)


def identical(tmp, name, config, source, extra=()):
    alone, p = prep(tmp, name, config, source, 0, extra)
    check(p.returncode == 0, "%s alone: expected exit 0: %s" % (name, describe(p)))
    for n in (1, 2, 3):
        out, p = prep(tmp, name, config, source, n, extra)
        check(p.returncode == 0, "%s -np %d: expected exit 0: %s" % (name, n, describe(p)))
        d = same_tree(alone, out)
        check(not d, "%s: -np %d differs from the prep alone in %s" % (name, n, d))
    meta = json.load(open(os.path.join(alone, "meta.json")))
    rows = [meta["splits"][s]["rows"] for s in ("train", "valid", "test")]
    print("%s: alone and -np 1, 2, 3 byte-identical (%d files; rows %s)" %
          (name, sum(len(f) for _, _, f in os.walk(alone)), rows))


def write_config(tmp, name, base, edit):
    cfg = json.load(open(os.path.join(ROOT, "configs", "datasets", base)))
    edit(cfg)
    path = os.path.join(tmp, name + ".json")
    json.dump(cfg, open(path, "w"), indent=1)
    return path


def quoted_source(tmp):
    """Two CSV files with a header: cells with commas, doubled quotes and newlines inside
    (quoted, so each file is read whole), the second gzip-compressed."""
    src = os.path.join(tmp, "quoted")
    os.makedirs(src)
    rnd = random.Random(5)
    words = ['plain', '"a, b"', '"say ""hi"""', '"two\nlines"', 'x', '"c,d,e"']
    for fname, opener in (("a.csv", open), ("b.csv.gz", gzip.open)):
        with opener(os.path.join(src, fname), "wt") as f:
            f.write("label,user,item,tag,city\n")
            for i in range(1500):
                f.write("%d,u%d,i%d,%s,%s\n" % (rnd.random() < 0.3, rnd.randrange(200), rnd.randrange(300),
                                               rnd.choice(words), rnd.choice(words)))
    cfg = {
        "name": "quoted-ctr", "task": "ctr", "seed": 3, "shards": 3, "min_freq": 2,
        "source": {"files": [{"path": "a.csv", "header": True}, {"path": "b.csv.gz", "header": True}],
                   "format": "delimited", "sep": ",", "quote": True},
        "label": {"column": "label", "map": {"0": 0, "1": 1}},
        "user": "user",
        "fields": [{"name": "user"}, {"name": "item", "item": True}, {"name": "tag", "item": True},
                   {"name": "city"}],
        "item_field": "item",
        "split": {"method": "random", "fractions": [0.8, 0.1, 0.1]},
    }
    path = os.path.join(tmp, "quoted-ctr.json")
    json.dump(cfg, open(path, "w"), indent=1)
    return path, src


def bad_row(tmp):
    """A short row near the end of criteo-tiny's second file: read by the last of 3 ranks."""
    src = os.path.join(tmp, "criteo-bad")
    os.makedirs(src)
    for f in ("tiny_train_input.csv", "tiny_test_input.csv"):
        shutil.copy(os.path.join(DATA, "criteo", f), src)
    path = os.path.join(src, "tiny_test_input.csv")
    lines = open(path).read().split("\n")
    at = len(lines) - 40
    lines[at] = ",".join(lines[at].split(",")[:7])
    open(path, "w").write("\n".join(lines))
    config = os.path.join(ROOT, "configs", "datasets", "criteo-tiny-ctr.json")
    alone, p = prep(tmp, "bad", config, src, 0)
    check(p.returncode == 2, "bad row alone: expected exit 2: " + describe(p))
    where = "tiny_test_input.csv:%d:" % (at + 1)
    check(where in p.stderr, "bad row alone: expected %s in: %s" % (where, p.stderr))
    out, p = prep(tmp, "bad", config, src, 3)
    check(p.returncode == 2, "bad row -np 3: expected exit 2: " + describe(p))
    errors = [l for l in p.stderr.splitlines() if "error:" in l]
    check(len(errors) == 1 and where in errors[0],
          "bad row -np 3: expected one error naming %s, got %r" % (where, errors))
    left = [f for f in os.listdir(tmp) if f.startswith("bad-np3")]
    check(not left, "bad row -np 3: left behind %s" % left)
    print("bad row at %s: alone and -np 3 exit 2 with the same place; nothing left behind" % where)


def test():
    if not DATA or not os.path.isdir(os.path.join(DATA, "criteo")):
        print("skip: AMEIR_SHARED_DATA has no criteo/")
        sys.exit(77)
    check(EXE and os.path.exists(EXE), "AMEIR_EXE=%r: the ameir executable is missing" % EXE)
    tmp = tempfile.mkdtemp(prefix="ameir-prep-ranks-")
    try:
        cfg = lambda n: os.path.join(ROOT, "configs", "datasets", n + ".json")  # noqa: E731
        identical(tmp, "criteo-tiny", cfg("criteo-tiny-ctr"), os.path.join(DATA, "criteo"), ["--shards", "5"])
        identical(tmp, "avazu", cfg("avazu-ctr"), os.path.join(DATA, "avazu"))
        frappe = write_config(tmp, "frappe-items", "frappe-ctr.json",
                              lambda c: (c.update(item_field="item"),
                                         [f.update(item=True) for f in c["fields"] if f["name"] in ("item", "cost")]))
        identical(tmp, "frappe-items", frappe, os.path.join(DATA, "frappe"))
        # histories (sorted by user and time): rank 0 alone prepares, the others wait
        identical(tmp, "taobao", cfg("taobao-ctr"), os.path.join(DATA, "taobao"))
        qcfg, qsrc = quoted_source(tmp)
        identical(tmp, "quoted-gzip", qcfg, qsrc)
        bad_row(tmp)
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main("test_prep_ranks", test)
