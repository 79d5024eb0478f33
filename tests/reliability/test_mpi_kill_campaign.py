"""Kill campaign: random kill -9 of rank 0, of a worker, of mpirun and of the whole job, each
followed at once by a resume with a random number of ranks, until the search finishes.

Seeded (AMEIR_CAMPAIGN_SEED, default 13), so a failure repeats; AMEIR_CAMPAIGN_SEARCHES
searches (default 1) each get AMEIR_CAMPAIGN_KILLS rounds with a kill (default 12, which
bounds the suite's run to a couple of minutes), then resumes left alone until it finishes. After every kill the checkpoint must be readable and hold every trial that
was finished before, unchanged (its worker and seconds too: a finished trial trained again
would get new ones), i.e. nothing finished is lost or re-run; each resume prints how many
it continues; the progress lines of a session must never name a trial the checkpoint already
had finished. Every search's final report must equal an uninterrupted run's. The last line
is the tally that docs/reliability.md quotes (rounds, kills by kind, lost, re-run).
AMEIR_CAMPAIGN_SHARDS=S runs the search on S virtual shards (groups that form and grow)."""
import json
import os
import random
import signal
import subprocess
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
from test_mpi_common import (TestFailure, Workspace, check, comparable, diff, finished_search, main, mpi_env,  # noqa: E402
                             mpirun_args, rank_pids, report)

KINDS = ("rank0", "worker", "mpirun", "job")
FINISHED = ("done", "diverged", "timeout")


def finished_trials(rh5):
    """trial id -> its full record, for every finished trial in the checkpoint (none if absent)."""
    if not os.path.exists(rh5):
        return {}
    rep = report(rh5)
    return {t["trial"]: t for st in rep["stages"] for t in st["trials"] if t["status"] in FINISHED}


def kill_round(rng, n, args, tally, kill=True):
    """Start a search, kill it at a random moment with a random kind; returns (exit code,
    progress trial ids of this session, kind or None when it finished before the kill)."""
    proc = subprocess.Popen(mpirun_args(n) + ["search"] + args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                            env=mpi_env())
    wait_lines = rng.randint(0, 6) if kill else 10 ** 9
    kind = rng.choice(KINDS)
    ids, seen = [], 0
    try:
        if wait_lines == 0:
            time.sleep(rng.uniform(0.3, 1.5))  # before the first result, maybe before MPI_Init
        for line in (proc.stdout if wait_lines else ()):
            if "] trial " in line:
                ids.append(int(line.split("] trial ")[1].split()[0]))
                seen += 1
                if seen >= wait_lines:
                    break
        ended = wait_lines and seen < wait_lines  # its output ended: it finished or failed by itself
        if not ended and proc.poll() is None:
            pids = rank_pids(proc.pid)
            if kind == "worker" and len(pids) < 2:
                kind = "rank0"
            if kind == "rank0" and 0 not in pids:
                kind = "mpirun"
            victims = {"rank0": [pids.get(0)], "worker": [pids.get(rng.choice(sorted(r for r in pids if r > 0)))] if
                       len(pids) > 1 else [], "mpirun": [proc.pid], "job": [proc.pid] + list(pids.values())}[kind]
            for v in victims:
                try:
                    os.kill(v, signal.SIGKILL)
                except (OSError, TypeError):
                    pass
        else:
            kind = None
        rest, err = proc.communicate(timeout=600)
        if kind and proc.returncode == 0:
            kind = None  # the search ended just before the kill
        if kind:
            tally[kind] += 1
        tally["grew"] = tally.get("grew", 0) + err.count("at a chunk boundary")  # with AMEIR_LOG=info
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    for line in rest.splitlines():
        if "] trial " in line:
            ids.append(int(line.split("] trial ")[1].split()[0]))
    return proc.returncode, ids, kind, err


def campaign(ws, name, reference, rng, tally, kills):
    """kills rounds with a kill at a random moment, then resumes left alone to the end."""
    rh5 = os.path.join(ws.run_dir(name), "RUN.h5")
    for rnd in range(kills + 5):
        before = finished_trials(rh5)
        n = rng.randint(1, 4)
        args = ["--resume", rh5] if os.path.exists(rh5) else ["--config", ws.config, "--out", rh5]
        code, ids, kind, err = kill_round(rng, n, args, tally, rnd < kills)
        tally["rounds"] += 1
        after = finished_trials(rh5)
        lost = [t for t in before if t not in after or diff(before[t], after[t])]
        rerun = sorted(set(ids) & set(before))
        tally["lost"] += len(lost)
        tally["rerun"] += len(rerun)
        check(not lost, "%s round %d (%s, %d ranks): finished trials lost or changed: %r" % (name, rnd, kind, n, lost))
        check(not rerun, "%s round %d: finished trials run again: %r" % (name, rnd, rerun))
        print("%s round %d: %d ranks, %s -> exit %d, %d finished before, %d after" % (
            name, rnd, n, kind or "no kill (finished)", code, len(before), len(after)))
        if kind is None:
            check(code == 0, "%s: a search left alone should finish with exit 0, got %d:\n%s" % (name, code, err[-3000:]))
            d = diff(reference, comparable(report(rh5)))
            check(not d, "%s: after %d rounds the report differs from an uninterrupted run at %s" % (name, rnd + 1, d))
            return
    raise TestFailure("%s: not finished after %d rounds" % (name, kills + 5))


def test():
    seed = int(os.environ.get("AMEIR_CAMPAIGN_SEED", "13"))
    searches = int(os.environ.get("AMEIR_CAMPAIGN_SEARCHES", "1"))
    kills = int(os.environ.get("AMEIR_CAMPAIGN_KILLS", "12"))
    rng = random.Random(seed)
    # AMEIR_CAMPAIGN_SHARDS=S: the search on S virtual shards, so that groups form and grow
    # (with AMEIR_TEST_CHUNK_STEPS, many boundaries) between the kills
    shards = int(os.environ.get("AMEIR_CAMPAIGN_SHARDS", "0"))
    ws = Workspace("kills", {"train": {"shards": shards}} if shards > 0 else None)
    try:
        ref_h5, _ = finished_search(ws, "reference", 2)
        reference = comparable(report(ref_h5))
        tally = dict({k: 0 for k in KINDS}, rounds=0, lost=0, rerun=0)
        for s in range(searches):
            campaign(ws, "search%d" % s, reference, rng, tally, kills)
        print("kill campaign (seed %d): %d searches of %d trials, %d rounds, kills: rank0 %d, worker %d, mpirun %d, job %d; "
              "finished trials lost %d, re-run %d; every final report identical" % (
                  seed, searches, len(reference["trials"]), tally["rounds"], tally["rank0"], tally["worker"], tally["mpirun"],
                  tally["job"], tally["lost"], tally["rerun"]))
        if shards > 0:
            print("on %d shards: groups grew %d times in the killed and resumed sessions (counted at AMEIR_LOG=info)" % (
                shards, tally.get("grew", 0)))
        tally.pop("grew", None)
        print(json.dumps(dict(tally, seed=seed, searches=searches)))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_kill_campaign", test)
