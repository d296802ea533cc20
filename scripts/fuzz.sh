#!/usr/bin/env bash
# Runs causeway's libFuzzer targets (fuzz/) for a fixed time each, one after another, one
# process each (the machine is shared): `make fuzz` (FUZZ_SECONDS, default 60) and the ctest
# tests labelled `fuzz` that `make test` runs (10 s each) call it.
#
# usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]   (targets: jsonrpc sql_guard trace decoder)
#
# Seeds come from fuzz/corpus/<target>/ (checked in, never written); inputs that reach new code
# are kept in BUILD_DIR/fuzz/corpus/<target>/, so later runs start from there. A crash, hang
# (over FUZZ_TIMEOUT s, default 10) or leak stops that target and leaves its input in
# BUILD_DIR/fuzz/crashes/<target>/; the script then exits 1 after running the others. The
# log of each run is BUILD_DIR/fuzz/logs/<target>.log.
set -uo pipefail

here=$(cd "$(dirname "$0")/.." && pwd)
if [ $# -lt 2 ]; then
  echo "usage: scripts/fuzz.sh BUILD_DIR SECONDS [TARGET...]" >&2
  exit 2
fi
build=$(cd "$1" && pwd) || exit 2
seconds=$2
shift 2
targets=("$@")
[ ${#targets[@]} -gt 0 ] || targets=(jsonrpc sql_guard trace decoder)
timeout_s=${FUZZ_TIMEOUT:-10}

# Largest input per target: a session of wire lines, an SQL statement, a trace file, a run of
# records.
declare -A max_len=([jsonrpc]=16384 [sql_guard]=4096 [trace]=65536 [decoder]=16384)

export ASAN_OPTIONS=${ASAN_OPTIONS:-detect_leaks=1:abort_on_error=0}
export UBSAN_OPTIONS=${UBSAN_OPTIONS:-print_stacktrace=1:halt_on_error=1}

failed=()
for t in "${targets[@]}"; do
  bin=$build/fuzz/fuzz_$t
  if [ ! -x "$bin" ]; then
    echo "fuzz: $bin is missing; build it first (make fuzz builds every target)." >&2
    exit 2
  fi
  seeds=$here/fuzz/corpus/$t
  corpus=$build/fuzz/corpus/$t
  crashes=$build/fuzz/crashes/$t
  log=$build/fuzz/logs/$t.log
  mkdir -p "$corpus" "$crashes" "$(dirname "$log")"
  args=(-max_total_time="$seconds" -timeout="$timeout_s" -rss_limit_mb=2048
        -max_len="${max_len[$t]:-4096}" -print_final_stats=1 -artifact_prefix="$crashes/")
  [ -f "$here/fuzz/$t.dict" ] && args+=(-dict="$here/fuzz/$t.dict")
  start=$(date +%s)
  "$bin" "${args[@]}" "$corpus" "$seeds" >"$log" 2>&1
  rc=$?
  took=$(($(date +%s) - start))
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$log" | tail -1)
  rate=$(sed -n 's/^stat::average_exec_per_sec: *//p' "$log" | tail -1)
  if [ $rc -eq 0 ]; then
    echo "fuzz $t: ${execs:-?} executions in ${took} s (${rate:-?}/s), no crash, corpus $(ls "$corpus" | wc -l) inputs"
  else
    failed+=("$t")
    artifact=$(sed -n 's/.*Test unit written to \(.*\)$/\1/p' "$log" | tail -1)
    echo "fuzz $t: FAILED after ${took} s (exit $rc): $(grep -m1 -E 'ERROR: |runtime error|fuzz invariant' "$log" || echo 'see the log')" >&2
    echo "  input: ${artifact:-(none written)}; log: $log" >&2
    echo "  reproduce: $bin ${artifact:-INPUT}" >&2
  fi
done
if [ ${#failed[@]} -gt 0 ]; then
  echo "fuzz: ${#failed[@]} target(s) failed: ${failed[*]}" >&2
  exit 1
fi
