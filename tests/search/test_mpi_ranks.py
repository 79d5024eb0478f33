"""The same config gives the same search whatever the number of ranks: `ameir report
--json` of runs with N = 1, 2 and 4 agree on every trial (arch, rung, budget, parent,
status, metric, steps), the stage winners, the winner and the baselines."""

from test_mpi_common import Workspace, check, comparable, diff, finished_search, main, report


def test():
    ws = Workspace("ranks")
    try:
        reps = {}
        for n in (1, 2, 4):
            rh5, _ = finished_search(ws, "n%d" % n, n)
            reps[n] = comparable(report(rh5))
            print("N=%d: %d trials, winner valid auc %.5f" % (n, len(reps[n]["trials"]), reps[n]["winner"]["valid"]["auc"]))
        for n in (2, 4):
            d = diff(reps[1], reps[n])
            check(not d, "report of N=1 and N=%d differ at %s" % (n, d))
    finally:
        ws.cleanup()


if __name__ == "__main__":
    main("test_mpi_ranks", test)
