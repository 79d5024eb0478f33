"""launch/slurm/search.sbatch against a real SLURM (slurmctld + slurmd + munged on this host,
tests/reliability/slurm_cluster.py), 3 tasks per job:

1. a job to completion (COMPLETED, exit 0, the log beside RUN.h5): the reference report;
2. `scancel --signal=USR1 --batch` mid-run (what --signal=B:USR1@120 sends before the time
   limit): checkpoint, exit 3, self-requeue, resume, COMPLETED after one restart;
3. a plain `scancel` mid-run (SIGTERM to every process of the job): CANCELLED with
   "interrupted, resumable: resubmit the same line" in the log, then the same line again;
4. LAUNCHER=srun (srun --mpi=pmix) and `scancel --signal=USR2 --batch` mid-run: stopped for
   good (COMPLETED, no requeue), then the same line again with srun;
5. RUN.stop beside RUN.h5: the job stops at once, COMPLETED;
6. AMEIR pointing nowhere: FAILED with exit 2 and the reason in the log.
Every resumed search ends with a report identical to the uninterrupted job's.

Skips (exit 77, saying why) only where the scheduler cannot run (not root, slurm-wlm or munge
missing); with AMEIR_REQUIRE_SLURM=1 (set by .ci/run) that is a failure instead."""
import os
import sys
import time

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from slurm_cluster import OneNodeSlurm, SlurmError, find, unavailable  # noqa: E402
from test_mpi_common import EXE, ROOT, TestFailure, Workspace, check, comparable, diff, main, mpi_env, report  # noqa: E402

SBATCH = os.path.join(ROOT, "launch", "slurm", "search.sbatch")
TASKS = 3


class Runs:
    def __init__(self, sl, ws):
        self.sl, self.ws = sl, ws
        self.env = dict(mpi_env(), AMEIR=EXE)

    def submit(self, run, **extra):
        exports = ",".join(["ALL", "CONFIG=" + self.ws.config, "RUN=" + run] + ["%s=%s" % kv for kv in extra.items()])
        return self.sl.sbatch(["--ntasks=%d" % TASKS, "--export=" + exports, SBATCH], env=self.env, cwd=self.ws.dir)

    def log(self, run):
        try:
            with open(run[:-len(".h5")] + ".log") as f:
                return f.read()
        except OSError:
            return ""

    def wait_lines(self, job, run, lines, timeout=300):
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.log(run).count("] trial ") >= lines:
                return
            state = self.sl.job(job).get("JobState")
            check(state in ("PENDING", "RUNNING", "CONFIGURING"), "job %s is %s before %d progress lines:\n%s" % (
                job, state, lines, self.log(run)[-3000:]))
            time.sleep(0.2)
        raise TestFailure("no %d progress lines of job %s in %d s:\n%s" % (lines, job, timeout, self.log(run)[-3000:]))

    def scancel(self, *args):
        p = self.sl.run([find("scancel")] + list(args))
        check(p.returncode == 0, "scancel %r: %s%s" % (args, p.stdout, p.stderr))

    def expect(self, job, run, states, text, restarts=0, exit_code=None):
        info = self.sl.wait_state(job, states, min_restarts=restarts)
        log = self.log(run)
        check(text in log, "job %s (%s): expected %r in the log beside RUN.h5:\n%s" % (job, info.get("JobState"), text, log[-3000:]))
        if exit_code is not None:
            check(info.get("ExitCode") == exit_code, "job %s: expected ExitCode=%s, got %s\n%s" % (
                job, exit_code, info.get("ExitCode"), log[-3000:]))
        print("job %s: %s, ExitCode %s, restarts %s: %r found" % (job, info.get("JobState"), info.get("ExitCode"),
                                                                info.get("Restarts"), text))
        return info

    def same(self, run, reference, what):
        d = diff(reference, comparable(report(run)))
        check(not d, "%s: the report differs from the uninterrupted job's at %s" % (what, d))

    def unfinished(self, run, what):
        mid = report(run)
        check(mid["winner"].get("status") != "done" or mid["trials"]["done"] < mid["trials"]["total"],
              "%s: the search should have been stopped before its end: %r" % (what, mid["trials"]))


def scenarios(sl, ws):
    r = Runs(sl, ws)
    keep = os.environ.get("AMEIR_SLURM_KEEP_LOG")  # a copy of the scancel job's log, for docs
    # 1. to completion
    run = os.path.join(ws.run_dir("complete"), "RUN.h5")
    job = r.submit(run)
    r.expect(job, run, "COMPLETED", "search exited with 0", exit_code="0:0")
    check(os.path.exists(os.path.join(ws.dir, "ameir-search-%s.out" % job)), "the job's first lines should be in the submit dir")
    reference = comparable(report(run))

    # 2. SIGUSR1 to the batch shell: checkpoint, exit 3, requeue, resume
    run = os.path.join(ws.run_dir("usr1"), "RUN.h5")
    job = r.submit(run)
    r.wait_lines(job, run, 4)
    r.scancel("--signal=USR1", "--batch", job)
    r.expect(job, run, "COMPLETED", "interrupted, resumable: requeued", restarts=1, exit_code="0:0")
    check("resuming" in r.log(run), "the requeued job should resume:\n%s" % r.log(run)[-3000:])
    r.same(run, reference, "SIGUSR1 and requeue")

    # 3. plain scancel: resumable, the same line again
    run = os.path.join(ws.run_dir("scancel"), "RUN.h5")
    job = r.submit(run)
    r.wait_lines(job, run, 4)
    r.scancel(job)
    r.expect(job, run, "CANCELLED", "interrupted, resumable: resubmit the same line")
    r.unfinished(run, "scancel")
    job = r.submit(run)
    r.expect(job, run, "COMPLETED", "resuming", exit_code="0:0")
    r.same(run, reference, "scancel and resubmit")
    if keep:
        with open(keep, "w") as f:
            f.write(r.log(run))

    # 4. srun --mpi=pmix, stopped for good with SIGUSR2, then the same line again
    run = os.path.join(ws.run_dir("srun"), "RUN.h5")
    job = r.submit(run, LAUNCHER="srun")
    r.wait_lines(job, run, 4)
    r.scancel("--signal=USR2", "--batch", job)
    info = r.expect(job, run, "COMPLETED", "stopped for good", exit_code="0:0")
    check(info.get("Restarts") == "0", "stopped for good must not requeue: %r" % info)
    check("by srun" in r.log(run), "the job should say it launches with srun")
    r.unfinished(run, "SIGUSR2")
    job = r.submit(run, LAUNCHER="srun")
    r.expect(job, run, "COMPLETED", "resuming", exit_code="0:0")
    r.same(run, reference, "srun, SIGUSR2 and resubmit")

    # 5. RUN.stop: the job stops at once
    stop = run[:-len(".h5")] + ".stop"
    open(stop, "w").close()
    job = r.submit(run)
    r.expect(job, run, "COMPLETED", "stopped for good: %s exists" % stop, exit_code="0:0")
    os.unlink(stop)

    # 6. a wrong AMEIR: FAILED, exit 2, the reason logged
    run = os.path.join(ws.run_dir("bad"), "RUN.h5")
    job = r.submit(run, AMEIR="/nonexistent/ameir")
    r.expect(job, run, "FAILED", "AMEIR=/nonexistent/ameir is not an executable", exit_code="2:0")


def test():
    why = unavailable()
    if why:
        if os.environ.get("AMEIR_REQUIRE_SLURM") == "1":
            raise TestFailure("AMEIR_REQUIRE_SLURM=1 but SLURM cannot run here: " + why)
        print("test_slurm: SKIPPED: " + why)
        sys.exit(77)
    ws = Workspace("slurm")
    try:
        with OneNodeSlurm(ws.run_dir("slurm")) as sl:
            try:
                scenarios(sl, ws)
            except (TestFailure, SlurmError) as e:
                raise TestFailure("%s\n%s" % (e, sl.logs()))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_slurm", test)
