"""Exit codes agree across commands (docs/exit-codes.md): an output that cannot be written is
bad usage, refused with exit 2 before any work, by prep, train, predict and search alike:
a directory that does not exist, and a real read-only file system (a tmpfs mounted ro; when
mounting is not allowed here that half is skipped, saying so). Usage errors exit 2, --help 0."""
import os
import subprocess
import sys
import tempfile

sys.path[:0] = [os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", d) for d in ("cluster", "search")]
from test_mpi_common import EXE, ROOT, Workspace, check, describe, main, mpi_env, run  # noqa: E402


def commands(ws, model, out_dir):
    return {
        "prep": [EXE, "prep", "--config", os.path.join(ROOT, "configs", "datasets", "synthetic.json"), "--out",
                 os.path.join(out_dir, "data")],
        "train": [EXE, "train", "--data", ws.data, "--arch", os.path.join(ROOT, "configs", "archs", "dnn.json"), "--epochs", "1",
                  "--out", os.path.join(out_dir, "m.h5")],
        "predict": [EXE, "predict", "--model", model, "--data", ws.data, "--out", os.path.join(out_dir, "p.csv")],
        "search": [EXE, "search", "--config", ws.config, "--out", os.path.join(out_dir, "RUN.h5")],
    }


def expect_refused(cmds, why):
    for name, args in cmds.items():
        p = run(args, timeout=300, env=mpi_env())
        check(p.returncode == 2, "%s with an output %s: expected exit 2: %s" % (name, why, describe(p)))
        check("not writable" in p.stderr, "%s: the message should say the directory is not writable: %s" % (name, p.stderr))
        print("%s, output %s: exit 2: %s" % (name, why, p.stderr.strip().splitlines()[-1]))


def test():
    ws = Workspace("exitcodes")
    try:
        model = os.path.join(ws.dir, "m.h5")
        p = run([EXE, "train", "--data", ws.data, "--arch", os.path.join(ROOT, "configs", "archs", "dnn.json"), "--epochs", "1",
                 "--out", model], timeout=300)
        check(p.returncode == 0, "train: " + describe(p))
        expect_refused(commands(ws, model, os.path.join(ws.dir, "no", "such")), "in a missing directory")
        for name in ("prep", "train", "eval", "predict", "bench", "search", "report"):
            p = run([EXE, name, "--help"], env=mpi_env())
            check(p.returncode == 0, "%s --help: expected exit 0: %s" % (name, describe(p)))
            p = run([EXE, name, "--no-such-option", "x"], env=mpi_env())
            check(p.returncode == 2, "%s --no-such-option: expected exit 2: %s" % (name, describe(p)))
        ro = tempfile.mkdtemp(prefix="ameir-ro-")
        m = subprocess.run(["mount", "-t", "tmpfs", "-o", "ro,size=1m", "tmpfs", ro], stderr=subprocess.PIPE, text=True)
        if m.returncode != 0:
            print("read-only half skipped: cannot mount a tmpfs here (%s)" % m.stderr.strip())
            return
        try:
            expect_refused(commands(ws, model, ro), "on a read-only file system")
        finally:
            subprocess.run(["umount", ro])
            os.rmdir(ro)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_exit_codes", test)
