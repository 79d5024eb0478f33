#!/bin/sh
# Medians of RUNS interleaved `ameir bench` runs of several builds (or one build under
# several environments), for before/after figures in docs/performance.md: samples per CPU
# second of the process (steadier when other jobs share the cores) and per wall second.
# Each side is NAME=EXE, or NAME=EXE@VAR=VALUE to run it with one environment variable set
# (OPENBLAS_CORETYPE=Sandybridge, say).
# usage: tests/bench/builds.sh "ARCH..." RUNS STEPS NAME=EXE[@VAR=VALUE]...   (from the source root)
set -eu
archs=${1:?usage: builds.sh "ARCH..." RUNS STEPS NAME=EXE[@VAR=VALUE]...}
runs=${2:?runs}
steps=${3:?steps}
shift 3
[ $# -ge 1 ] || { echo "builds.sh: name at least one NAME=EXE" >&2; exit 2; }
tmp=$(mktemp -d)
trap 'rm -rf "$tmp"' EXIT
median() { sort -n | awk '{a[NR]=$1} END {print a[int((NR+1)/2)]}'; }
echo "start: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg), $(nproc) cores; $runs runs of $steps steps"
for arch in $archs; do
    rm -f "$tmp"/*.cpu "$tmp"/*.wall
    i=0
    while [ $i -lt "$runs" ]; do
        for side in "$@"; do
            name=${side%%=*}
            rest=${side#*=}
            exe=${rest%%@*}
            envset=
            [ "$exe" = "$rest" ] || envset=${rest#*@}
            env $envset "$exe" bench --arch "$arch" --batch 256 --seq 50 --dim 16 --steps "$steps" > "$tmp/out" 2>&1 ||
                { cat "$tmp/out" >&2; exit 1; }
            tail -1 "$tmp/out" | awk '{print $2}' >> "$tmp/$name.wall"
            sed -n 's/.*(\([0-9]*\) samples per cpu second).*/\1/p' "$tmp/out" >> "$tmp/$name.cpu"
        done
        i=$((i + 1))
    done
    for side in "$@"; do
        name=${side%%=*}
        echo "$arch | $name | per CPU second $(median < "$tmp/$name.cpu") ($(tr '\n' ' ' < "$tmp/$name.cpu"| sed 's/ $//')) | per wall second $(median < "$tmp/$name.wall")"
    done
done
echo "end: $(date -u '+%F %T') UTC, load average $(cut -d' ' -f1-3 /proc/loadavg)"
