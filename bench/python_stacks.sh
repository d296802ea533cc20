#!/usr/bin/env bash
# Added cost per traced CUDA call of recording the Python stack (bpf/pystack.bpf.c), measured
# side by side: the same Python loop of cheap CUDA calls (sim/python/train_loop.py --bench,
# cudaStreamSynchronize on the simulated GPU through ctypes) untraced, traced with
# --no-python-stacks, and traced with Python stacks, at two Python stack depths. Runs are
# interleaved and repeated; medians are printed of
#   - the wall-clock time per call the script measures (includes the uprobe trap, ctypes and
#     the simulated call: noisy on a loaded machine), and
#   - the run time per hit of the CUDA entry program (kernel.bpf_stats_enabled), which is
#     where the Python walk runs: the direct measure of its cost.
# Each cudaStreamSynchronize is two probe hits (the runtime calls the driver's
# cuStreamSynchronize), so the walk runs twice per Python-level call.
# Usage (root): bench/python_stacks.sh BUILD_DIR [CALLS] [REPEATS]
set -euo pipefail
build="${1:?usage: bench/python_stacks.sh BUILD_DIR [CALLS] [REPEATS]}"
calls="${2:-200000}"
repeats="${3:-5}"
here="$(cd "$(dirname "$0")/.." && pwd)"
script="$here/sim/python/train_loop.py"
cudart="$(cd "$build" && pwd)/sim/libcudart.so.13"
causeway="$(cd "$build" && pwd)/causeway"
tmp="$(mktemp -d)"

# Ids of loaded cuda__enter programs, and the ns per hit of one of them.
entry_ids() {
  bpftool prog show -j 2>/dev/null | python3 -c '
import json, sys
print(" ".join(str(p["id"]) for p in json.load(sys.stdin) if p.get("name") == "cuda__enter"))'
}
entry_ns() {
  bpftool prog show id "$1" -j 2>/dev/null | python3 -c '
import json, sys
p = json.load(sys.stdin)
if p.get("run_cnt"):
    print("%.1f" % (p["run_time_ns"] / p["run_cnt"]))'
}

run() {  # mode depth -> "wall_ns_per_call bpf_ns_per_hit"
  local mode="$1" depth="$2" flag=""
  local cmd=(/usr/bin/python3 "$script" --cudart "$cudart" --bench "$calls" --depth "$depth")
  if [[ "$mode" == untraced ]]; then
    echo "$("${cmd[@]}" | sed -n 's/^bench calls=[0-9]* ns_per_call=\([0-9.]*\)$/\1/p') 0"
    return
  fi
  [[ "$mode" == no_python ]] && flag="--no-python-stacks"
  local before
  before=" $(entry_ids) "
  "$causeway" trace --db "$tmp/t.db" --no-syscalls --no-io $flag -- "${cmd[@]}" \
    >"$tmp/out" 2>/dev/null &
  # This trace's program: the first cuda__enter loaded after it started (other tracers on
  # the machine load their own).
  local tracer=$! per_hit="" sample id="" i
  while kill -0 "$tracer" 2>/dev/null; do
    if [[ -z "$id" ]]; then
      for i in $(entry_ids); do
        [[ "$before" == *" $i "* ]] || { id="$i"; break; }
      done
    fi
    if [[ -n "$id" ]]; then
      sample="$(entry_ns "$id")"
      [[ -n "$sample" ]] && per_hit="$sample"
    fi
    sleep 0.2
  done
  wait "$tracer" || true
  rm -f "$tmp/t.db"
  echo "$(sed -n 's/^bench calls=[0-9]* ns_per_call=\([0-9.]*\)$/\1/p' "$tmp/out") ${per_hit:-0}"
}

median() { sort -n | awk '{a[NR]=$1} END {print (NR % 2) ? a[(NR+1)/2] : (a[NR/2] + a[NR/2+1]) / 2}'; }

stats_before="$(sysctl -n kernel.bpf_stats_enabled)"
sysctl -qw kernel.bpf_stats_enabled=1
trap 'sysctl -qw kernel.bpf_stats_enabled="$stats_before"; rm -rf "$tmp"' EXIT
echo "# python stack overhead: $calls calls x $repeats runs per cell, $(nproc) CPUs, load before: $(cut -d' ' -f1-3 /proc/loadavg)"
printf "%-6s | %10s %10s %10s %10s | %10s %10s %10s\n" depth untraced no_python python added \
  entry_nopy entry_py walk_hit
for depth in 3 20; do
  declare -A wall=() bpf=()
  for ((i = 0; i < repeats; i++)); do
    for mode in untraced no_python python; do
      # --depth counts bench() frames; main() and <module> add two more.
      read -r w b <<<"$(run "$mode" $((depth - 2)))"
      wall[$mode]+="$w"$'\n'
      bpf[$mode]+="$b"$'\n'
    done
  done
  u="$(median <<<"${wall[untraced]}")"
  n="$(median <<<"${wall[no_python]}")"
  p="$(median <<<"${wall[python]}")"
  bn="$(median <<<"${bpf[no_python]}")"
  bp="$(median <<<"${bpf[python]}")"
  printf "%-6s | %10s %10s %10s %10s | %10s %10s %10s\n" "$depth" "$u" "$n" "$p" \
    "$(awk -v p="$p" -v n="$n" 'BEGIN {printf "%.1f", p - n}')" "$bn" "$bp" \
    "$(awk -v p="$bp" -v n="$bn" 'BEGIN {printf "%.1f", p - n}')"
  unset wall bpf
done
echo "# load after: $(cut -d' ' -f1-3 /proc/loadavg)"
echo "# wall columns: ns per Python-level call (medians); added = python - no_python"
echo "# entry columns: ns per cuda__enter hit (medians); walk_hit = the Python walk per probe hit"
