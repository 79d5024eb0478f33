"""Parallel prep on the real mpirun: `mpirun -np N ameir prep` writes the same bytes, file for
file, as `ameir prep` alone, for N = 1, 2, 3: byte slices that cut files and lines (criteo-tiny,
two files pooled and split at random; avazu, three files with a header; frappe, libfm with
users and an item table), shards whose rows span ranks (--shards 5), and whole files (a quoted
CSV with separators and newlines inside cells, and a gzip file); and the sorted prep, whose
events meet by user on the rank that owns the user: taobao-ctr (histories, split by time),
also with 64 KB sort chunks so that every sort merges many runs, ml100k-ctr (histories with
joins, random split), ml100k-seq (the seq task, leave-one-out, candidates) and beauty-seq (the
sequence format: lines of a user's items, cut between ranks like any lines). A bad row read
by the last rank fails every rank with exit 2 and the same file:line as alone, leaves no
output and no temporary directory, and does not hang, in the flat and in the sorted prep.
Skips (77) without the shared data."""
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


def prep(tmp, name, config, source, ranks, extra=(), env_extra=None):
    out = os.path.join(tmp, "%s-np%s" % (name, ranks or "alone"))
    args = [EXE, "prep", "--config", config, "--source", source, "--out", out] + list(extra)
    if ranks:
        forward = sum((["-x", k] for k in sorted(env_extra or {})), [])
        args = [MPIRUN, "-np", str(ranks), "--oversubscribe"] + forward + args
    env = mpi_env() if ranks else dict(os.environ, AMEIR_LOG="warn")
    env.update(env_extra or {})
    return out, run(args, timeout=300, env=env)


def identical(tmp, name, config, source, extra=(), env_extra=None):
    alone, p = prep(tmp, name, config, source, 0, extra, env_extra)
    check(p.returncode == 0, "%s alone: expected exit 0: %s" % (name, describe(p)))
    for n in (1, 2, 3):
        out, p = prep(tmp, name, config, source, n, extra, env_extra)
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


def few_users(tmp):
    """ml-100k with the ratings of users 1 and 2 only, grouped by user: each user's events span
    ranks, and with 3 ranks one rank owns no user."""
    src = os.path.join(tmp, "ml-few")
    shutil.copytree(os.path.join(DATA, "ml-100k"), src)
    lines = [l for l in open(os.path.join(src, "u.data")) if l.split("\t")[0] in ("1", "2")]
    lines.sort(key=lambda l: int(l.split("\t")[0]))
    open(os.path.join(src, "u.data"), "w").write("".join(lines))
    return src


def bad_row(tmp, name, dataset, files, config, spoil):
    """A bad row near the end of the last file (spoil rewrites the line): read by the last of
    3 ranks."""
    src = os.path.join(tmp, name + "-src")
    os.makedirs(src)
    for f in files:
        shutil.copy(os.path.join(DATA, dataset, f), src)
    path = os.path.join(src, files[-1])
    lines = open(path).read().split("\n")
    at = len(lines) - 40
    lines[at] = spoil(lines[at])
    open(path, "w").write("\n".join(lines))
    config = os.path.join(ROOT, "configs", "datasets", config)
    alone, p = prep(tmp, name, config, src, 0)
    check(p.returncode == 2, "%s alone: expected exit 2: %s" % (name, describe(p)))
    where = "%s:%d:" % (files[-1], at + 1)
    check(where in p.stderr, "%s alone: expected %s in: %s" % (name, where, p.stderr))
    out, p = prep(tmp, name, config, src, 3)
    check(p.returncode == 2, "%s -np 3: expected exit 2: %s" % (name, describe(p)))
    errors = [l for l in p.stderr.splitlines() if "error:" in l]
    check(len(errors) == 1 and where in errors[0],
          "%s -np 3: expected one error naming %s, got %r" % (name, where, errors))
    left = [f for f in os.listdir(tmp) if f.startswith(name + "-np3")]
    check(not left, "%s -np 3: left behind %s" % (name, left))
    print("%s at %s: alone and -np 3 exit 2 with the same place; nothing left behind" % (name, where))


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
        # sorted by user and time: histories, the seq task, joins, every split method but files
        identical(tmp, "taobao", cfg("taobao-ctr"), os.path.join(DATA, "taobao"))
        identical(tmp, "taobao-runs", cfg("taobao-ctr"), os.path.join(DATA, "taobao"), ["--shards", "3"],
                  {"AMEIR_PREP_SORT_CHUNK": "65536"})
        identical(tmp, "ml100k-ctr", cfg("ml100k-ctr"), os.path.join(DATA, "ml-100k"))
        identical(tmp, "ml100k-seq", cfg("ml100k-seq"), os.path.join(DATA, "ml-100k"), ["--shards", "2"])
        identical(tmp, "beauty-seq", cfg("beauty-seq"), os.path.join(DATA, "amazon-beauty"))
        few = few_users(tmp)
        identical(tmp, "ml100k-ctr-few", cfg("ml100k-ctr"), few)
        identical(tmp, "ml100k-seq-few", write_config(tmp, "ml100k-seq-few", "ml100k-seq.json",
                                                      lambda c: c.update(negatives=20)), few)
        qcfg, qsrc = quoted_source(tmp)
        identical(tmp, "quoted-gzip", qcfg, qsrc)
        bad_row(tmp, "bad", "criteo", ["tiny_train_input.csv", "tiny_test_input.csv"], "criteo-tiny-ctr.json",
                lambda line: ",".join(line.split(",")[:7]))
        bad_row(tmp, "bad-sorted", "taobao", ["UserBehavior.csv"], "taobao-ctr.json",
                lambda line: ",".join(line.split(",")[:4] + ["soon"]))
    finally:
        shutil.rmtree(tmp, ignore_errors=True)


if __name__ == "__main__":
    main("test_prep_ranks", test)
