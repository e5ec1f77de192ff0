#!/usr/bin/env bash
# Lab build speed, size on disk, and the onset detector's ceiling (the ground truth scored
# against itself), for one bank. Usage: bash benchmarks/lab_ceiling.sh [procedural|debian] [N]
set -euo pipefail
BANK=${1:-procedural}
N=${2:-200}
OUT=${LAB_BENCH_OUT:-/tmp/maskvat-lab-bench-$BANK}
MV=${MASKVAT:-maskvat}
rm -rf "$OUT"
for split in test train; do
  $MV lab build "$OUT" --split $split --n "$N" --seed 0 --bank "$BANK" 2>/dev/null
done
du -sh "$OUT/test" | awk -v n="$N" '{print "size on disk, test split: " $1 " for " n " clips"}'
for split in test train; do
  echo "== ground truth scored against itself: $split split, bank $BANK"
  $MV lab score "$OUT/$split" "$OUT/$split" 2>/dev/null
done
