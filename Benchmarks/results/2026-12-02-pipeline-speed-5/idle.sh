#!/bin/bash
# Waits (up to $1 s) until the machine was >= 90% idle over one second; prints the idle % seen.
lim=${1:-60}; t=0
while :; do
  read -r _ a b c d e f g h _ < /proc/stat; t1=$((a+b+c+d+e+f+g+h)); i1=$((d+e))
  sleep 1
  read -r _ a b c d e f g h _ < /proc/stat; t2=$((a+b+c+d+e+f+g+h)); i2=$((d+e))
  idle=$(( 100 * (i2 - i1) / (t2 - t1) )); t=$((t+1))
  if [ $idle -ge 90 ] || [ $t -ge $lim ]; then echo $idle; return 0 2>/dev/null || exit 0; fi
done
