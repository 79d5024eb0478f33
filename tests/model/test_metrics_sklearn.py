"""Recompute the metrics of test_metrics_dump with scikit-learn (AUC, logloss; gAUC from
per-user roc_auc_score) and numpy (ranking metrics), and compare to 1e-9.
usage: test_metrics_sklearn.py PATH_TO_test_metrics_dump"""
import subprocess
import sys
import tempfile

import numpy as np
from sklearn.metrics import log_loss, roc_auc_score


def main():
    exe = sys.argv[1]
    with tempfile.TemporaryDirectory() as out:
        subprocess.run([exe, out], check=True)
        rows = np.loadtxt(f"{out}/rows.csv", delimiter=",", dtype=np.float64)
        ranks = np.loadtxt(f"{out}/ranks.csv", delimiter=",", dtype=np.float64)
        got = {}
        with open(f"{out}/metrics.csv") as f:
            for line in f:
                k, v = line.strip().split(",")
                got[k] = float(v)

    score, label, user = rows[:, 0], rows[:, 1], rows[:, 2].astype(np.int64)
    want = {"auc": roc_auc_score(label, score),
            "logloss": log_loss(label, 1.0 / (1.0 + np.exp(-score)))}
    # gAUC: per-user AUC weighted by the user's rows, one-class users skipped
    total, rows_used, skipped = 0.0, 0, 0
    for u in np.unique(user):
        sel = user == u
        if len(np.unique(label[sel])) < 2:
            skipped += 1
            continue
        total += roc_auc_score(label[sel], score[sel]) * sel.sum()
        rows_used += sel.sum()
    want["gauc"] = total / rows_used
    # ranking: rank = 1 + negatives scored >= the true item
    rank = 1 + (ranks[:, 1:] >= ranks[:, :1]).sum(axis=1)
    gain = 1.0 / np.log2(rank + 1.0)
    want.update(hr1=np.mean(rank <= 1), hr5=np.mean(rank <= 5), hr10=np.mean(rank <= 10),
                ndcg5=np.mean(np.where(rank <= 5, gain, 0.0)),
                ndcg10=np.mean(np.where(rank <= 10, gain, 0.0)), mrr=np.mean(1.0 / rank))

    ties = len(score) - len(np.unique(score))
    print(f"{len(score)} rows ({ties} tied scores), {len(np.unique(user))} users ({skipped} with one class), "
          f"{len(ranks)} ranked lists")
    failed = 0
    for k, w in want.items():
        ok = abs(got[k] - w) <= 1e-9 * max(1.0, abs(w))
        failed += not ok
        print(f"{k:8s} C {got[k]:.12f}  reference {w:.12f}  {'ok' if ok else 'MISMATCH'}")
    # the data must exercise what is compared: ties, users skipped, ranks past 10
    if ties < 1000 or skipped < 100 or not (0.6 < want["auc"] < 0.95) or want["hr10"] in (0.0, 1.0):
        print("the generated data does not exercise the metrics")
        failed += 1
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
