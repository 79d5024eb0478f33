"""Spare workers join trials (train.shards > 0): a trial that starts when fewer trials can
run than workers wait trains data-parallel over a group of them, and the search is the same
bit for bit whatever the groups: `ameir report --json` of N = 1 and 5 agree on every trial,
the stage winners, the winner and the baselines, and N = 5 did form groups. A SIGUSR1
after groups formed (a config whose rungs hold at most three trials, so most trials of 4
workers are group trials) gives exit 3, and the resume with another N ends as the run with
one rank does.

Groups also grow at chunk boundaries: a worker that frees up while no task can start joins a
running search trial. With the test hook AMEIR_TEST_CHUNK_STEPS (chunks of 8 steps, so the
short trials here have many boundaries) N = 5 must have grown groups and still match N = 1,
and the interrupted run resumes to the same search; without the hooks the join check is
skipped (the identity checks still run).

Final trials grow at their validations: the finals stop early at different validations, and
the ranks freed then join the finals still running (the identity run's finals may or may not
grow, by timing; each that did must have saved N = 1's model). For a check that cannot
depend on timing, a run with the test hook AMEIR_TEST_START_GROUP=1 starts every trial on one
rank, so the spare worker joins a running final at its next validation (the finals validate
every 60 steps here); it is sent SIGUSR1 right after that final grew (exit 3), resumed with
3 ranks, and must match N = 1."""
import os
import re
import signal
import subprocess
import time

from test_mpi_common import (EXE, Workspace, check, comparable, describe, diff, interrupt_after, last_json, logged_search,
                             main, mpi_env, mpirun_args, report, run, search)

GROUP_LINE = re.compile(r"trial (\d+) trains on ranks ([\d,]+), data-parallel over 3 shards")
GROW_LINE = re.compile(r"trial (\d+) grows to ranks ([\d,]+) at a (chunk boundary|validation)")
HOOKS = os.environ.get("AMEIR_TEST_HOOKS") == "1"


def grouped_search(ws, config, name, n):
    """A fresh search that must exit 0; returns (comparable report, {trial: ranks} of groups)."""
    rep, _, err = logged_search(ws, config, name, n)
    groups = {int(m.group(1)): m.group(2) for m in GROUP_LINE.finditer(err)}
    grown = {int(m.group(1)): m.group(2) for m in GROW_LINE.finditer(err)}
    finals = {int(m.group(1)): m.group(2) for m in GROW_LINE.finditer(err) if m.group(3) == "validation"}
    return comparable(rep), groups, grown, finals


def saved_metrics(ws, model, split):
    """`ameir eval --json` of a saved model file on split (without the file's name)."""
    p = run([EXE, "eval", "--data", ws.data, "--model", model, "--split", split, "--json"], env=mpi_env())
    check(p.returncode == 0, "ameir eval %s: %s" % (model, describe(p)))
    return {k: v for k, v in last_json(p).items() if k != "model"}


def interrupt_on_final_grow(n, args, timeout=900):
    """Start a search (log level info, every trial started on one rank, stderr into stdout),
    send SIGUSR1 to mpirun as soon as a final trial grows at a validation; return (exit code,
    output, whether a final grew)."""
    env = mpi_env()
    env["AMEIR_LOG"] = "info"
    env["AMEIR_TEST_START_GROUP"] = "1"
    proc = subprocess.Popen(mpirun_args(n) + ["search"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.STDOUT,
                            text=True, env=env)
    out, grew = [], False
    deadline = time.time() + timeout
    try:
        for line in proc.stdout:
            out.append(line)
            m = GROW_LINE.search(line)
            if m and m.group(3) == "validation":
                grew = True
                proc.send_signal(signal.SIGUSR1)
                break
            check(time.time() < deadline, "no final grew within %d s" % timeout)
        rest, _ = proc.communicate(timeout=300)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.returncode, "".join(out) + (rest or ""), grew


def test():
    # many chunk boundaries, so that free workers can join running trials (results do not
    # depend on the chunks: a step is a pure function of the seed, the step and the state)
    os.environ["AMEIR_TEST_CHUNK_STEPS"] = "8"
    ws = Workspace("groups", {"train": {"shards": 3}, "final": {"eval_every": 60}})
    try:
        ref, none, grown, _ = grouped_search(ws, ws.config, "n1", 1)
        check(not none and not grown, "one rank alone formed groups: %r %r" % (none, grown))
        for n in (5,):
            rep, groups, grown, finals = grouped_search(ws, ws.config, "n%d" % n, n)
            print("N=%d: %d trials, %d of them in groups: %s; %d grew at a chunk boundary or validation: %s, finals among them: %s" % (
                n, len(rep["trials"]), len(groups), sorted(groups.items()), len(grown), sorted(grown.items()), sorted(finals)))
            check(groups, "N=%d: no trial trained on a group of ranks (expected the last rungs and the finals to)" % n)
            check(grown or not HOOKS, "N=%d: no group grew at a chunk boundary (chunks of 8 steps)" % n)
            # the finals end at different validations (early stopping), and the ranks freed
            # then have nothing else to start: whether that happens here is timing; the
            # SIGUSR1 run below makes a final grow for sure
            for t in finals:  # the saved model of a grown final: the same weights as N = 1's
                for split in ("valid", "test"):
                    a, b = (saved_metrics(ws, os.path.join(ws.run_dir(r), "RUN.trials", "final-%d.h5" % t), split)
                            for r in ("n1", "n%d" % n))
                    check(a == b, "final %d's saved model on %s: N=1 %r, N=%d %r" % (t, split, a, n, b))
            print("N=%d: the saved models of the grown finals %s give N=1's valid and test metrics" % (n, sorted(finals)))
            d = diff(ref, rep)
            check(not d, "report of N=1 and N=%d (groups that grow) differ at %s" % (n, d))
        # groups that grew, then SIGUSR1 (checkpoint, exit 3) and a resume with another N
        rh5 = os.path.join(ws.run_dir("grown-usr1"), "RUN.h5")
        code, out, err, seen = interrupt_after(5, ["--config", ws.config, "--out", rh5], 30, "mpirun", signal.SIGUSR1,
                                               extra_env={"AMEIR_LOG": "info"})
        check(code == 3, "SIGUSR1 after %d progress lines: expected exit 3, got %d\n%s\n%s" % (seen, code, out[-3000:], err[-3000:]))
        joins = len(GROW_LINE.findall(err))
        check(joins or not HOOKS, "no group grew in the %d progress lines before SIGUSR1:\n%s" % (seen, err[-3000:]))
        p = search(2, "--resume", rh5)
        check(p.returncode == 0, "resume with 2 ranks: expected exit 0: %s" % describe(p))
        d = diff(ref, comparable(report(rh5)))
        check(not d, "the search whose groups grew, interrupted and resumed, differs from N=1 at %s" % d)
        print("grown: %d groups grew in the %d progress lines before SIGUSR1, exit 3, resumed with 2 ranks: same as N=1" % (
            joins, seen))
        # a final that grew, then SIGUSR1 (the grown group stops at its next validation, the
        # final stays pending) and a resume with 3 ranks
        rh5 = os.path.join(ws.run_dir("final-usr1"), "RUN.h5")
        code, out, grew = interrupt_on_final_grow(5, ["--config", ws.config, "--out", rh5])
        if HOOKS:
            check(grew, "AMEIR_TEST_START_GROUP=1: no final trial grew at a validation:\n%s" % out[-3000:])
        if grew:
            check(code == 3, "SIGUSR1 after a final grew: expected exit 3, got %d\n%s" % (code, out[-3000:]))
            p = search(3, "--resume", rh5)
            check(p.returncode == 0, "resume with 3 ranks: expected exit 0: %s" % describe(p))
        else:  # without the hooks nothing forces a final to grow: the run goes to its end
            check(code == 0, "no final grew, so no SIGUSR1: expected exit 0, got %d\n%s" % (code, out[-3000:]))
        d = diff(ref, comparable(report(rh5)))
        check(not d, "the final-grow run (a final grew: %s) differs from N=1 at %s" % (grew, d))
        print("final grown: %s" % ("SIGUSR1 right after a final grew at a validation, exit 3, resumed with 3 ranks: same as N=1"
                                   if grew else "no final grew (no test hooks); same as N=1"))
        small = ws.write_config("small.json", {"train": {"shards": 3}, "behavior": {"schedule": {"n": 1}},
                                               "interaction": {"schedule": {"n": 2}}, "mlp": {"schedule": {"n": 1}}})
        ref, _, _, _ = grouped_search(ws, small, "small-n1", 1)
        rh5 = os.path.join(ws.run_dir("small-usr1"), "RUN.h5")
        env = {"AMEIR_LOG": "info"}
        code, out, err, seen = interrupt_after(5, ["--config", small, "--out", rh5], 4, "mpirun", signal.SIGUSR1, extra_env=env)
        check(code == 3, "SIGUSR1 after %d progress lines: expected exit 3, got %d\n%s\n%s" % (seen, code, out[-3000:], err[-3000:]))
        check(GROUP_LINE.search(err), "the interrupted run formed no group:\n%s" % err[-3000:])
        joins = len(GROW_LINE.findall(err))
        p = search(3, "--resume", rh5)
        check(p.returncode == 0, "resume with 3 ranks: expected exit 0: %s" % describe(p))
        d = diff(ref, comparable(report(rh5)))
        check(not d, "the interrupted and resumed search differs from the run with one rank at %s" % d)
        print("small: SIGUSR1 after %d lines (%d groups grew before it), exit 3, resumed with 3 ranks: same as N=1 (%d trials)" % (
            seen, joins, len(ref["trials"])))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_groups", test)
