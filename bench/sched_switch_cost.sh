#!/usr/bin/env bash
# What causeway's scheduler hooks cost tasks it does not trace: the wall time of an untraced
# two-process pipe ping-pong (sim/sched_workload pingpong: parent on CPU 0, child on CPU 1)
# with no tracer, with OLD_BUILD's causeway tracing another process (`sleep`), and with
# NEW_BUILD's doing the same, interleaved RUNS times. Needs root and BPF.
#   bench/sched_switch_cost.sh OLD_BUILD NEW_BUILD [ROUND_TRIPS] [RUNS]
set -uo pipefail
OLD=${1:?old build dir}; NEW=${2:?new build dir}; N=${3:-100000}; RUNS=${4:-3}
WORKLOAD="$NEW/sim/sched_workload"
DB=$(mktemp -d)/sb.db
run_pp() {
  local s=$(date +%s%N)
  "$WORKLOAD" pingpong "$N" >/dev/null
  echo $(( ($(date +%s%N) - s) / 1000000 ))
}
with_tracer() {
  rm -f "$DB"*
  "$1/causeway" trace --db "$DB" -- sleep 600 >/dev/null 2>&1 &
  local t=$!
  # Wait until the probes are on (the trace has its first interval), then measure.
  for _ in $(seq 1 120); do
    sleep 0.5
    [ -n "$(sqlite3 "$DB" 'SELECT 1 FROM thread_state LIMIT 1' 2>/dev/null)" ] && break
  done
  run_pp
  pkill -f "^sleep 600" ; wait "$t" 2>/dev/null
}
for _ in $(seq 1 "$RUNS"); do
  echo "none $(run_pp)"
  echo "old $(with_tracer "$OLD")"
  echo "new $(with_tracer "$NEW")"
done
