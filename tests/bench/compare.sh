#!/bin/sh
# Medians of N interleaved runs of `ameir bench` and tests/bench/torch_bench.py at 1 and 2
# threads, for docs/performance.md.
# usage: tests/bench/compare.sh AMEIR_EXE [ARCH] [RUNS]   (from the source root)
set -eu
exe=${1:?usage: compare.sh AMEIR_EXE [ARCH] [RUNS]}
arch=${2:-configs/archs/product-example.json}
runs=${3:-5}
py=/usr/bin/python3
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
for t in 1 2; do
    : > /tmp/ameir_bench_c.$$; : > /tmp/ameir_bench_t.$$
    i=0
    while [ $i -lt "$runs" ]; do
        "$exe" bench --arch "$arch" --batch 256 --seq 50 --dim 16 --threads "$t" | tail -1 | awk '{print $2}' >> /tmp/ameir_bench_c.$$
        $py tests/bench/torch_bench.py --arch "$arch" --batch 256 --seq 50 --dim 16 --threads "$t" | tail -1 | awk '{print $2}' >> /tmp/ameir_bench_t.$$
        i=$((i + 1))
    done
    c=$(median < /tmp/ameir_bench_c.$$); p=$(median < /tmp/ameir_bench_t.$$)
    echo "threads $t: ameir runs $(tr '\n' ' ' < /tmp/ameir_bench_c.$$)| torch runs $(tr '\n' ' ' < /tmp/ameir_bench_t.$$)"
    echo "threads $t: median samples/s ameir $c, torch $p, ratio $(awk -v c="$c" -v p="$p" 'BEGIN {printf "%.2f", c / p}')"
done
rm -f /tmp/ameir_bench_c.$$ /tmp/ameir_bench_t.$$
echo "load average: $(cut -d' ' -f1-3 /proc/loadavg)"
