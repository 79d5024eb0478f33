"""The launch wrapper launch/ameir-mpirun.sh: it turns a SIGTERM into SIGUSR1 for mpirun:
exit 3, and the same command line run again resumes RUN.h5 and finishes. (The SLURM script
is tested against a real scheduler: tests/reliability/test_slurm.py.)"""
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
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_launch", test)
