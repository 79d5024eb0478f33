"""One copy of the data per node: `mpirun -np 4 ameir search` (3 training ranks on this one
node) maps train and valid from one MPI-3 shared window, and gives the same search, trial for
trial, as `--private-data` (a copy per rank); a damaged shard read by the node's first rank
fails every rank with exit 2 and the shard's name, without a hang."""
import os
import sys

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "search"))
from test_mpi_common import (Workspace, check, comparable, describe, diff, finished_search, main, mpi_env,  # noqa: E402
                             mpirun_args, report, run)


def search_info(ws, name, *extra):
    """A search with n = 4 ranks at log level info; returns (report, stderr)."""
    rh5 = os.path.join(ws.run_dir(name), "RUN.h5")
    env = mpi_env()
    env["AMEIR_LOG"] = "info"
    p = run(mpirun_args(4) + ["search", "--config", ws.config, "--out", rh5] + list(extra), timeout=900, env=env)
    check(p.returncode == 0, "%s: expected exit 0: %s" % (name, describe(p)))
    return comparable(report(rh5)), p.stderr


def test():
    ws = Workspace("node-data")
    try:
        shared, err = search_info(ws, "shared")
        lines = [l for l in err.splitlines() if "per node" in l]
        check(len(lines) == 1 and "shared by 3 rank(s)" in lines[0],
              "expected one line 'data: one copy ... shared by 3 rank(s)' from the node's first training rank, got %r" % lines)
        private, err = search_info(ws, "private", "--private-data")
        check(not [l for l in err.splitlines() if "per node" in l], "--private-data still mapped a shared window:\n" + err)
        d = diff(shared, private)
        check(not d, "shared and private data give different searches at %s" % d)
        print("shared and private data: %d identical trials; %s" % (len(shared["trials"]), lines[0].strip()))

        # a damaged training shard: the node's first rank cannot read it, every rank stops
        shard = sorted(f for f in os.listdir(os.path.join(ws.data, "train")) if f.endswith(".h5"))[0]
        path = os.path.join(ws.data, "train", shard)
        size = os.path.getsize(path)
        with open(path, "r+b") as f:
            f.truncate(size // 2)
        rh5 = os.path.join(ws.run_dir("damaged"), "RUN.h5")
        p = run(mpirun_args(4) + ["search", "--config", ws.config, "--out", rh5], timeout=120, env=mpi_env())
        check(p.returncode == 2, "damaged shard: expected exit 2: " + describe(p))
        check(shard in p.stderr, "damaged shard: expected its name %s in the error: %s" % (shard, describe(p)))
        print("damaged shard %s: exit 2, named" % shard)
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_node_data", test)
