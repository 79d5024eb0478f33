#!/bin/sh
# Medians of N interleaved runs of `ameir bench` and tests/bench/torch_bench.py at 1 and 2
# threads, for docs/performance.md: samples per wall-clock second (the bench's last line)
# and samples per CPU second of the process (steadier when the machine is shared).
# usage: tests/bench/compare.sh AMEIR_EXE [ARCH] [RUNS] [STEPS]   (from the source root)
set -eu
exe=${1:?usage: compare.sh AMEIR_EXE [ARCH] [RUNS] [STEPS]}
arch=${2:-configs/archs/product-example.json}
runs=${3:-5}
steps=${4:-200}
py=/usr/bin/python3
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
# wall: last line "samples/s: N"; cpu: "(N samples per cpu second)" on the seconds line
one() { # $1 = name, then the command
    name=$1
    shift
    "$@" > "$tmp/out"
    tail -1 "$tmp/out" | awk '{print $2}' >> "$tmp/$name.wall"
    sed -n 's/.*(\([0-9]*\) samples per cpu second).*/\1/p' "$tmp/out" >> "$tmp/$name.cpu"
}
for t in 1 2; do
    rm -f "$tmp"/*.wall "$tmp"/*.cpu
    i=0
    while [ $i -lt "$runs" ]; do
        one ameir "$exe" bench --arch "$arch" --batch 256 --seq 50 --dim 16 --steps "$steps" --threads "$t"
        one torch $py tests/bench/torch_bench.py --arch "$arch" --batch 256 --seq 50 --dim 16 --steps "$steps" --threads "$t"
        i=$((i + 1))
    done
    for k in wall cpu; do
        c=$(median < "$tmp/ameir.$k")
        p=$(median < "$tmp/torch.$k")
        echo "threads $t, samples per $k second: ameir $(tr '\n' ' ' < "$tmp/ameir.$k")| torch $(tr '\n' ' ' < "$tmp/torch.$k")"
        echo "threads $t, samples per $k second: median ameir $c, torch $p, ratio $(awk -v c="$c" -v p="$p" 'BEGIN {printf "%.2f", c / p}')"
    done
done
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores"
