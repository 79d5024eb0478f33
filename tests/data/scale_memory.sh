#!/usr/bin/env bash
# Bounded-memory prep (suite slow: the release build only; sanitizers inflate the resident set).
# criteo: 3,000,000 Criteo-shaped rows (gen_scale from the shipped raw_train.csv, vocabularies
# growing as in real logs) prepared with criteo-kaggle-ctr.json must report a peak resident set
# under 1 GB. The all-in-memory prep held every row: 1.4 GB at 1,000,000 rows of this input
# (measured, getrusage), so about 4 GB here; the streaming prep needs about 140 MB.
# taobao: 3,000,000 Taobao-shaped events with taobao-ctr.json (histories of 50, a time split:
# the sorts by user and time) under 800 MB; the in-memory prep took 403 MB per million events,
# so about 1.2 GB here. Both check that the rows add up. Skip (77) without the shared data.
#   scale_memory.sh AMEIR GEN_SCALE [ROWS [LIMIT_MB [criteo|taobao]]]   (also the full-size
#   benchmark: 45840617 rows and 4096 MB, docs/performance.md; TMPDIR needs about 3 bytes per
#   input byte)
set -euo pipefail
ameir=$1; gen=$2; rows=${3:-3000000}; kind=${5:-criteo}
if [ "$kind" = taobao ]; then
  limit=${4:-800}; sample="${AMEIR_SHARED_DATA:-}/taobao/UserBehavior.csv"; input=UserBehavior.csv; config=taobao-ctr
else
  limit=${4:-1024}; sample="${AMEIR_SHARED_DATA:-}/criteo/raw_train.csv"; input=train.txt; config=criteo-kaggle-ctr
fi
[ -f "$sample" ] || { echo "skip: $sample not found"; exit 77; }
root=${AMEIR_SOURCE_ROOT:-.}
tmp=$(mktemp -d "${TMPDIR:-/tmp}/ameir-scale-XXXXXX")
trap 'rm -rf "$tmp"' EXIT
mkdir "$tmp/src"
"$gen" "$kind" "$sample" "$rows" 7 > "$tmp/src/$input"
log="$tmp/prep.log"
t0=$(date +%s.%N)
"$ameir" prep --config "$root/configs/datasets/$config.json" --source "$tmp/src" --out "$tmp/out" 2> "$log"
t1=$(date +%s.%N)
grep -v '^prep: ' "$log" | tr '\r' '\n' | grep -v '^prep: ' || true
line=$(tr '\r' '\n' < "$log" | grep 'peak memory' | tail -1)
peak=$(echo "$line" | sed -n 's/.*peak memory \([0-9]*\) MB.*/\1/p')
[ -n "$peak" ] || { echo "FAIL: no peak memory in the prep log"; exit 1; }
sum=$(echo "$line" | sed -n 's/.*: \([0-9]*\) train, \([0-9]*\) valid, \([0-9]*\) test rows.*/\1 + \2 + \3/p')
total=$(( sum ))
echo "rows $total, peak memory $peak MB, $(awk "BEGIN { printf \"%d\", $total / ($t1 - $t0) }") rows/s (wall, load: $(cut -d' ' -f1-3 /proc/loadavg))"
[ "$total" -eq "$rows" ] || { echo "FAIL: $total rows prepared, $rows generated"; exit 1; }
[ "$peak" -lt "$limit" ] || { echo "FAIL: peak memory $peak MB >= $limit MB: prep holds the rows"; exit 1; }
echo "ok"
