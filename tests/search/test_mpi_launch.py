"""The launch scripts: launch/ameir-mpirun.sh and launch/slurm/search.sbatch.

- the wrapper turns a SIGTERM into SIGUSR1 for mpirun: exit 3, and the same command line
  run again resumes RUN.h5 and finishes;
- the SLURM script, run by bash with the variables SLURM sets and a stand-in `scontrol` on
  PATH (no SLURM here): SIGUSR1 to the batch shell (what --signal=B:USR1@120 sends) makes
  it checkpoint, exit 3 and call `scontrol requeue JOBID`; the requeued run resumes and
  finishes without requeueing."""
import os
import signal
import subprocess
import time

from test_mpi_common import EXE, ROOT, TestFailure, Workspace, check, main, mpi_env, report


def run_signalled(args, env, lines, sig, cwd=None):
    """Start a script, send sig after `lines` progress lines; return (code, stdout, stderr)."""
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=cwd,
                            start_new_session=True)
    seen, out = 0, []
    try:
        for line in proc.stdout:
            out.append(line)
            seen += "] trial " in line
            if seen >= lines:
                break
        if seen < lines:
            raise TestFailure("the script ended after %d progress lines, before the signal:\n%s" % (seen, "".join(out)))
        time.sleep(0.2)
        proc.send_signal(sig)
        rest, err = proc.communicate(timeout=300)
    except BaseException:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.wait()
        raise
    return proc.returncode, "".join(out) + rest, err


def test():
    ws = Workspace("launch")
    try:
        env = mpi_env()
        env["AMEIR"] = EXE
        wrapper = os.path.join(ROOT, "launch", "ameir-mpirun.sh")
        rh5 = os.path.join(ws.run_dir("wrapper"), "RUN.h5")
        code, out, err = run_signalled(["bash", wrapper, ws.config, rh5, "2"], env, 4, signal.SIGTERM)
        check(code == 3, "wrapper after SIGTERM: expected exit 3, got %d\n%s\n%s" % (code, out[-2000:], err[-2000:]))
        p = subprocess.run(["bash", wrapper, ws.config, rh5, "2"], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
                           env=env, timeout=600)
        check(p.returncode == 0 and "resuming" in p.stderr, "wrapper run again: expected a resume and exit 0, got %d\n%s\n%s"
              % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        check(report(rh5)["winner"]["status"] == "done", "the wrapper's search should be finished")

        # SLURM: a stand-in scontrol that records its arguments
        bin_dir = ws.run_dir("bin")
        log = os.path.join(ws.dir, "scontrol.log")
        with open(os.path.join(bin_dir, "scontrol"), "w") as f:
            f.write("#!/bin/sh\necho \"$@\" >> %s\n" % log)
        os.chmod(os.path.join(bin_dir, "scontrol"), 0o755)
        rh5 = os.path.join(ws.run_dir("slurm"), "RUN.h5")
        env.update({"PATH": bin_dir + os.pathsep + env["PATH"], "CONFIG": ws.config, "RUN": rh5, "SLURM_JOB_ID": "4242",
                    "SLURM_NTASKS": "2", "SLURM_SUBMIT_DIR": ROOT})
        sbatch = os.path.join(ROOT, "launch", "slurm", "search.sbatch")
        code, out, err = run_signalled(["bash", sbatch], env, 4, signal.SIGUSR1, cwd=ws.dir)
        check(code == 3, "search.sbatch after SIGUSR1: expected exit 3, got %d\n%s\n%s" % (code, out[-2000:], err[-2000:]))
        with open(log) as f:
            calls = f.read().split("\n")
        check("requeue 4242" in calls, "search.sbatch should requeue the job on exit 3, scontrol got: %r" % calls)
        p = subprocess.run(["bash", sbatch], stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env, cwd=ws.dir,
                           timeout=600)
        check(p.returncode == 0 and "resuming" in p.stdout, "the requeued job should resume and finish, got %d\n%s\n%s"
              % (p.returncode, p.stdout[-2000:], p.stderr[-2000:]))
        with open(log) as f:
            check(f.read().count("requeue") == 1, "a finished job must not requeue itself")
        check(report(rh5)["winner"]["status"] == "done", "the SLURM search should be finished")
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_launch", test)
