#!/bin/bash
# pipeline-ab.sh with three binaries: per round all three (order rotated), bridge and router, each under the lock.
R=$1; OUT=$2; shift 2; BINS=("$@")
rm -rf $OUT; mkdir -p $OUT
for r in $(seq 1 $R); do
  k=$(( (r - 1) % ${#BINS[@]} ))
  order=("${BINS[@]:$k}" "${BINS[@]:0:$k}")
  for b in "${order[@]}"; do
    n=$(basename $b)
    echo "round $r $n idle-before $(/tmp/p5/idle.sh 60)% $(date -u +%T)" >> $OUT/idle.txt
    flock /tmp/fabric-cpu.lock $b bridge 4000000 > $OUT/$r-$n-bridge.txt
    flock /tmp/fabric-cpu.lock $b router 4000000 > $OUT/$r-$n-router.txt
  done
  echo "round $r: ${order[*]}" >> $OUT/order.txt
done
