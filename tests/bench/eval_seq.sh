#!/bin/sh
# Before/after timing of `ameir eval` on a seq dataset, for docs/performance.md: two ameir
# executables (e.g. built at the commit before and at the commit of a change) run the same
# model files alternately, RUNS times each; prints every run and the medians of wall-clock
# and user+system CPU seconds, the speed-up (before / after), and whether both printed the
# same metrics. The load average before and after goes with the numbers.
# usage: tests/bench/eval_seq.sh BEFORE_EXE AFTER_EXE DATA_DIR RUNS MODEL.h5...
set -eu
before=${1:?usage: eval_seq.sh BEFORE_EXE AFTER_EXE DATA_DIR RUNS MODEL.h5...}
after=${2:?}
data=${3:?}
runs=${4:?}
shift 4
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
one() { # $1 = tag, $2 = exe, $3 = model: appends wall and cpu seconds, keeps the metrics line
    /usr/bin/time -f "%e %U %S" -o "$tmp/time" "$2" eval --data "$data" --model "$3" --split valid --json > "$tmp/out"
    read -r wall user sys < "$tmp/time"
    echo "$wall" >> "$tmp/$1.wall"
    awk -v u="$user" -v s="$sys" 'BEGIN {print u + s}' >> "$tmp/$1.cpu"
    tail -1 "$tmp/out" | sed 's/.*"valid"://' > "$tmp/$1.metrics"
}
echo "start: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $runs runs each"
for model in "$@"; do
    rm -f "$tmp"/*.wall "$tmp"/*.cpu
    i=0
    while [ $i -lt "$runs" ]; do
        one before "$before" "$model"
        one after "$after" "$model"
        i=$((i + 1))
    done
    same=no
    cmp -s "$tmp/before.metrics" "$tmp/after.metrics" && same=yes
    for k in wall cpu; do
        b=$(median < "$tmp/before.$k")
        a=$(median < "$tmp/after.$k")
        echo "$model: $k s before $(tr '\n' ' ' < "$tmp/before.$k")| after $(tr '\n' ' ' < "$tmp/after.$k")"
        echo "$model: $k s median before $b, after $a, speed-up $(awk -v b="$b" -v a="$a" 'BEGIN {printf "%.1f", b / a}')"
    done
    echo "$model: same metrics: $same $(cat "$tmp/after.metrics")"
    echo "  load average $(cut -d' ' -f1-3 /proc/loadavg)"
done
echo "end: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
