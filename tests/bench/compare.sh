#!/bin/sh
# Medians of N interleaved runs of `ameir bench` and tests/bench/torch_bench.py (sparse
# tables with SparseAdam, and dense Adam over everything) at 1 and 2 threads and at each
# dimension, for docs/performance.md: samples per wall-clock second (the bench's last line)
# and per CPU second of the process (steadier when the machine is shared). The load average
# before and after goes with the numbers: other jobs on the cores change them.
# PyTorch runs with OMP_NUM_THREADS=T, as a job script sets it: Debian's torch links
# OpenBLAS, whose own thread pool torch.set_num_threads does not bound (at T = 1 it kept a
# second core busy, docs/performance.md).
# usage: tests/bench/compare.sh AMEIR_EXE [ARCH] [RUNS] [STEPS] [DIMS] [THREADS]   (from the source root)
#        defaults: configs/archs/product-bench.json 5 60 "16 32 64" "1 2"
set -eu
exe=${1:?usage: compare.sh AMEIR_EXE [ARCH] [RUNS] [STEPS] [DIMS] [THREADS]}
arch=${2:-configs/archs/product-bench.json}
runs=${3:-5}
steps=${4:-60}
dims=${5:-16 32 64}
threads=${6:-1 2}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
ratio() { awk -v c="$1" -v p="$2" 'BEGIN {printf "%.2f", c / p}'; }
# wall: last line "samples/s: N"; cpu: "(N samples per cpu second)" on the seconds line
one() { # $1 = name, then the command
    name=$1
    shift
    "$@" > "$tmp/out"
    tail -1 "$tmp/out" | awk '{print $2}' >> "$tmp/$name.wall"
    sed -n 's/.*(\([0-9]*\) samples per cpu second).*/\1/p' "$tmp/out" >> "$tmp/$name.cpu"
}
echo "start: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $arch, $runs runs of $steps steps"
for d in $dims; do
    for t in $threads; do
        rm -f "$tmp"/*.wall "$tmp"/*.cpu
        i=0
        while [ $i -lt "$runs" ]; do
            set -- --arch "$arch" --batch 256 --seq 50 --dim "$d" --steps "$steps" --threads "$t"
            one ameir "$exe" bench "$@"
            one sparse env OMP_NUM_THREADS="$t" $py tests/bench/torch_bench.py "$@" --optimizer sparse
            one dense env OMP_NUM_THREADS="$t" $py tests/bench/torch_bench.py "$@" --optimizer dense
            i=$((i + 1))
        done
        for k in wall cpu; do
            c=$(median < "$tmp/ameir.$k")
            s=$(median < "$tmp/sparse.$k")
            n=$(median < "$tmp/dense.$k")
            echo "d $d, threads $t, samples per $k second: ameir $(tr '\n' ' ' < "$tmp/ameir.$k")| torch sparse $(tr '\n' ' ' < "$tmp/sparse.$k")| torch dense $(tr '\n' ' ' < "$tmp/dense.$k")"
            echo "d $d, threads $t, samples per $k second: median ameir $c, torch sparse $s (ratio $(ratio "$c" "$s")), torch dense $n (ratio $(ratio "$c" "$n"))"
        done
        echo "  load average $(cut -d' ' -f1-3 /proc/loadavg)"
    done
done
echo "end: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
