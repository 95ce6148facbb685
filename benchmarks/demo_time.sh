#!/usr/bin/env bash
# Wall time and peak memory of `alignlab demo` from a clean cache, then a rerun with the cache.
#
#   bash benchmarks/demo_time.sh [RUNS]      (default 3)
#
# Each timed run gets its own empty ALIGNLAB_CACHE and output directory, so it builds the
# organism and every stage; the final run reuses the last cache with a new output
# directory, so only the organism is reused. The issue's targets: median under 300 s and
# peak resident memory under 2 GiB on a 2-core machine.
set -euo pipefail
runs=${1:-3}
alignlab=${ALIGNLAB:-alignlab}
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
times=()
for i in $(seq 1 "$runs"); do
  export ALIGNLAB_CACHE="$work/cache-$i"
  /usr/bin/time -f "%e %M" -o "$work/time-$i" "$alignlab" demo --out "$work/demo-$i" >/dev/null 2>"$work/log-$i"
  read -r seconds kib <"$work/time-$i"
  printf 'run %d: %6.1f s, peak RSS %6.0f MiB\n' "$i" "$seconds" "$(awk "BEGIN {print $kib / 1024}")"
  times+=("$seconds")
done
median=$(printf '%s\n' "${times[@]}" | sort -n | awk '{a[NR]=$1} END {print (NR%2 ? a[(NR+1)/2] : (a[NR/2]+a[NR/2+1])/2)}')
echo "median of $runs clean runs: $median s"
/usr/bin/time -f "%e %M" -o "$work/time-reuse" "$alignlab" demo --out "$work/demo-reuse" >/dev/null 2>"$work/log-reuse"
read -r seconds kib <"$work/time-reuse"
printf 'rerun with the cache: %6.1f s, peak RSS %6.0f MiB; %s\n' "$seconds" "$(awk "BEGIN {print $kib / 1024}")" \
  "$(grep -o 'organism reused from [a-z]*' "$work/log-reuse" || echo 'organism NOT reused')"
