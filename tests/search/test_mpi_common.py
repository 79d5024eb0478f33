"""Shared helpers of the MPI search tests (tests/search/test_mpi_*.py).

Each test prepares the synthetic dataset once in its own temporary directory, writes a
search config there (tests/search/test_mpi_config.json with the data path and baselines filled
in) and runs `mpirun -np K --oversubscribe ameir search` as a subprocess. Failures raise
TestFailure with a message that says what was expected and what happened.
"""
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time

EXE = os.environ.get("AMEIR_EXE", "")
ROOT = os.environ.get("AMEIR_SOURCE_ROOT", os.path.join(os.path.dirname(__file__), "..", ".."))
MPIRUN = shutil.which("mpirun") or "mpirun"
HERE = os.path.dirname(os.path.abspath(__file__))


class TestFailure(Exception):
    pass


def check(cond, msg):
    if not cond:
        raise TestFailure(msg)


def run(args, timeout=600, **kw):
    """Run a command, return CompletedProcess (text); never raises on a non-zero exit."""
    return subprocess.run(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, timeout=timeout, **kw)


def describe(p):
    return "exit %d\n--- stdout ---\n%s\n--- stderr ---\n%s" % (p.returncode, p.stdout[-4000:], p.stderr[-4000:])


def mpi_env():
    env = dict(os.environ)
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT", "1")
    env.setdefault("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1")
    env.setdefault("OMPI_MCA_rmaps_base_oversubscribe", "1")
    # ranks poll with short sleeps; do not let Open MPI bind them all to one core
    env.setdefault("OMPI_MCA_hwloc_base_binding_policy", "none")
    env["AMEIR_LOG"] = env.get("AMEIR_LOG", "warn")
    return env


def mpirun_args(n):
    return [MPIRUN, "-np", str(n), "--oversubscribe", EXE]


class Workspace:
    """A temporary directory with the synthetic data and a search config."""

    def __init__(self, name, overrides=None):
        check(EXE and os.path.exists(EXE), "AMEIR_EXE=%r: the ameir executable is missing" % EXE)
        self.dir = tempfile.mkdtemp(prefix="ameir-%s-" % name)
        self.data = os.path.join(self.dir, "data")
        p = run([EXE, "prep", "--config", os.path.join(ROOT, "configs", "datasets", "synthetic.json"), "--out", self.data])
        check(p.returncode == 0, "ameir prep of the synthetic dataset failed: " + describe(p))
        self.config = self.write_config("search.json", overrides or {})

    def write_config(self, name, overrides):
        with open(os.path.join(HERE, "test_mpi_config.json")) as f:
            cfg = json.load(f)
        cfg["data"] = self.data
        cfg["baselines"] = [b if os.path.isabs(b) else os.path.join(HERE, b) for b in cfg.get("baselines", [])]
        deep_update(cfg, overrides)
        path = os.path.join(self.dir, name)
        with open(path, "w") as f:
            json.dump(cfg, f, indent=1)
        return path

    def run_dir(self, name):
        d = os.path.join(self.dir, name)
        os.makedirs(d, exist_ok=True)
        return d

    def cleanup(self):
        shutil.rmtree(self.dir, ignore_errors=True)


def deep_update(dst, src):
    for k, v in src.items():
        if isinstance(v, dict) and isinstance(dst.get(k), dict):
            deep_update(dst[k], v)
        else:
            dst[k] = v


def search(n, *args, timeout=900):
    return run(mpirun_args(n) + ["search"] + list(args), timeout=timeout, env=mpi_env())


def finished_search(ws, name, n, *extra):
    """A fresh search of ws.config with n ranks into ws/name/RUN.h5 that must exit 0;
    returns (RUN.h5 path, completed process)."""
    rh5 = os.path.join(ws.run_dir(name), "RUN.h5")
    p = search(n, "--config", ws.config, "--out", rh5, *extra)
    check(p.returncode == 0, "%s: search with %d ranks: expected exit 0: %s" % (name, n, describe(p)))
    return rh5, p


def last_json(p):
    lines = [l for l in p.stdout.strip().splitlines() if l.strip()]
    check(lines, "no output: " + describe(p))
    try:
        return json.loads(lines[-1])
    except ValueError:
        raise TestFailure("the last line is not JSON: " + describe(p))


def logged_search(ws, config, name, n):
    """A fresh search of config with n ranks and AMEIR_LOG=info into ws/name/RUN.h5 that must
    exit 0; returns (its report, RUN.h5 path, stderr)."""
    rh5 = os.path.join(ws.run_dir(name), "RUN.h5")
    env = mpi_env()
    env["AMEIR_LOG"] = "info"
    p = run(mpirun_args(n) + ["search", "--config", config, "--out", rh5], timeout=900, env=env)
    check(p.returncode == 0, "%s: search with %d ranks: expected exit 0: %s" % (name, n, describe(p)))
    return report(rh5), rh5, p.stderr


def report(run_h5):
    p = run([EXE, "report", run_h5, "--json"], env=mpi_env())
    check(p.returncode == 0, "ameir report %s failed: %s" % (run_h5, describe(p)))
    return last_json(p)


def comparable(rep):
    """What must not depend on N or on interruptions: every trial's identity, arch,
    status, metric and steps, the winner and the baselines (not workers nor seconds)."""
    trials = []
    for st in rep["stages"]:
        for t in st["trials"]:
            trials.append({k: t[k] for k in ("trial", "kind", "rung", "budget", "parent", "status", "metric", "steps", "arch")})
    trials.sort(key=lambda t: t["trial"])
    return {"trials": trials, "winner": rep["winner"], "baselines": rep["baselines"],
            "stage_winners": rep["stage_winners"], "counts": rep["trials"]}


def diff(a, b, path=""):
    """First difference between two JSON values, as text ('' if equal)."""
    if type(a) != type(b):
        return "%s: %r != %r" % (path, a, b)
    if isinstance(a, dict):
        for k in sorted(set(a) | set(b)):
            if k not in a or k not in b:
                return "%s.%s: present in only one" % (path, k)
            d = diff(a[k], b[k], path + "." + k)
            if d:
                return d
        return ""
    if isinstance(a, list):
        if len(a) != len(b):
            return "%s: %d items != %d items" % (path, len(a), len(b))
        for i, (x, y) in enumerate(zip(a, b)):
            d = diff(x, y, "%s[%d]" % (path, i))
            if d:
                return d
        return ""
    return "" if a == b else "%s: %r != %r" % (path, a, b)


def rank_pids(mpirun_pid):
    """pid of each rank started by a local mpirun, by OMPI_COMM_WORLD_RANK."""
    found = {}
    todo = [mpirun_pid]
    while todo:
        pid = todo.pop()
        try:
            with open("/proc/%d/task/%d/children" % (pid, pid)) as f:
                kids = [int(x) for x in f.read().split()]
        except OSError:
            kids = []
        for k in kids:
            try:
                with open("/proc/%d/environ" % k, "rb") as f:
                    env = dict(e.split(b"=", 1) for e in f.read().split(b"\0") if b"=" in e)
                r = env.get(b"OMPI_COMM_WORLD_RANK")
                if r is not None:
                    found[int(r)] = k
            except OSError:
                pass
            todo.append(k)
    return found


def interrupt_after(n, args, lines, target="mpirun", sig=signal.SIGUSR1, timeout=900, extra_env=None):
    """Start a search, wait for `lines` progress lines, send sig to mpirun (target
    "mpirun") or to rank 0 (target "rank0"), return (exit code, stdout, stderr, progress
    lines seen before the signal)."""
    env = mpi_env()
    env.update(extra_env or {})
    proc = subprocess.Popen(mpirun_args(n) + ["search"] + list(args), stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                            text=True, env=env)
    seen, out = 0, []
    deadline = time.time() + timeout
    try:
        for line in proc.stdout:
            out.append(line)
            if "] trial " in line:
                seen += 1
            if seen >= lines:
                break
            check(time.time() < deadline, "no %d progress lines within %d s" % (lines, timeout))
        if seen < lines:  # (stderr is read only then: reading it waits for mpirun to end)
            raise TestFailure("the search ended after %d progress lines, before the signal:\n%s\n%s"
                              % (seen, "".join(out), proc.stderr.read()))
        if target == "mpirun":
            proc.send_signal(sig)
        else:
            pids = rank_pids(proc.pid)
            check(0 in pids, "cannot find rank 0 among the children of mpirun (%r)" % pids)
            os.kill(pids[0], sig)
        rest, err = proc.communicate(timeout=300)
    except BaseException:
        proc.kill()
        proc.wait()
        raise
    return proc.returncode, "".join(out) + rest, err, seen


def main(name, fn):
    """Run fn(), print a clear verdict, exit non-zero on failure."""
    start = time.time()
    try:
        fn()
    except TestFailure as e:
        print("%s: FAILED: %s" % (name, e), file=sys.stderr)
        sys.exit(1)
    except subprocess.TimeoutExpired as e:
        print("%s: FAILED: timeout: %s" % (name, e), file=sys.stderr)
        sys.exit(1)
    print("%s: ok (%.1f s)" % (name, time.time() - start))
