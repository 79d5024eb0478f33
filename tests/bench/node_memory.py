#!/usr/bin/env python3
"""Memory of a search's ranks on one node, with the data in one shared copy per node (the
default) and with a copy per rank (--private-data), for docs/running.md.

usage: /usr/bin/python3 tests/bench/node_memory.py --config SEARCH.json [--np 4] [--ameir build/src/cli/ameir]
           [--wait 30]

Per mode it starts `mpirun -np N --oversubscribe ameir search --config ... --out TMP/RUN.h5`,
waits until every rank's resident set has stopped growing for 3 samples (1 s apart; at most
--wait seconds), reads each ameir process's /proc/PID/smaps_rollup (Rss: resident, counting
shared pages in full; Pss: shared pages divided among the processes that map them, so the
Pss of all ranks adds up to the node's memory), stops the job with SIGTERM (it exits 3,
resumable) and prints one table row per mode."""
import argparse
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time


def ranks_of(tag):
    """pids of the ameir processes whose command line names tag (the run directory)."""
    out = []
    for pid in os.listdir("/proc"):
        if not pid.isdigit():
            continue
        try:
            with open("/proc/%s/cmdline" % pid, "rb") as f:
                cmd = f.read().split(b"\0")
        except OSError:
            continue
        if cmd and os.path.basename(cmd[0]) == b"ameir" and any(tag.encode() in c for c in cmd):
            out.append(int(pid))
    return sorted(out)


def rollup(pid):
    kb = {}
    with open("/proc/%d/smaps_rollup" % pid) as f:
        for line in f:
            parts = line.split()
            if len(parts) >= 3 and parts[-1] == "kB":
                kb[parts[0].rstrip(":")] = int(parts[1])
    return kb


def measure(a, private):
    tmp = tempfile.mkdtemp(prefix="ameir-mem-")
    run = os.path.join(tmp, "RUN.h5")
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    cmd = ["mpirun", "-np", str(a.np), "--oversubscribe", a.ameir, "search", "--config", a.config, "--out", run]
    if private:
        cmd.append("--private-data")
    p = subprocess.Popen(cmd, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        last, stable, t0 = None, 0, time.time()
        while time.time() - t0 < a.wait:
            time.sleep(1)
            pids = ranks_of(tmp)
            if len(pids) < a.np:
                continue
            try:
                now = [rollup(q)["Rss"] for q in pids]
            except (OSError, KeyError):
                continue
            stable = stable + 1 if now == last else 0
            last = now
            if stable >= 3:
                break
        pids = ranks_of(tmp)
        rows = [rollup(q) for q in pids]
    finally:
        p.send_signal(signal.SIGTERM)
        try:
            p.wait(timeout=120)
        except subprocess.TimeoutExpired:
            p.kill()
        shutil.rmtree(tmp, ignore_errors=True)
    return rows


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--config", required=True)
    ap.add_argument("--np", type=int, default=4)
    ap.add_argument("--ameir", default="build/src/cli/ameir")
    ap.add_argument("--wait", type=float, default=30)
    a = ap.parse_args()
    print("| data | ranks | Rss per rank, MB (rank order) | Pss per rank, MB | node total (sum of Pss), MB |")
    print("|---|---|---|---|---|")
    for private in (False, True):
        rows = measure(a, private)
        if len(rows) < a.np:
            print("%s: found %d of %d ranks" % ("private" if private else "shared", len(rows), a.np), file=sys.stderr)
        rss = " / ".join("%.0f" % (r["Rss"] / 1024) for r in rows)
        pss = " / ".join("%.0f" % (r["Pss"] / 1024) for r in rows)
        total = sum(r["Pss"] for r in rows) / 1024
        print("| %s | %d | %s | %s | %.0f |" % ("a copy per rank (--private-data)" if private else "one copy per node (default)",
                                               len(rows), rss, pss, total))


if __name__ == "__main__":
    main()
