#!/usr/bin/env bash
# Runs every benchmark binary in the build directory and prints its results.
# Usage: scripts/bench.sh BUILD_DIR [extra args passed to every benchmark]
# Called by `make bench`. Benchmarks are bench/*_bench.cpp, built into BUILD_DIR/bench/.
# Long ones default to a short run here: capture_sustained_bench traces 10 s (the documented
# figure is `capture_sustained_bench --seconds 60`; `scripts/bench.sh BUILD --seconds 60`).
# Figures worth keeping go to docs/performance.md, with the command that produced them.
# Then diagnosis_accuracy scores `causeway explain` on 240 generated cases with known answers
# (about 25 minutes; needs root; figures in docs/explain.md, "Diagnosis accuracy"). It takes its
# own flags, so the extra args are not passed to it.
set -euo pipefail

build="${1:?usage: scripts/bench.sh BUILD_DIR}"
shift
bench_dir="$build/bench"
if [[ ! -d "$bench_dir" ]]; then
  echo "bench.sh: $bench_dir does not exist; build first (make build)." >&2
  exit 1
fi

shopt -s nullglob
benches=("$bench_dir"/*_bench)
if [[ ${#benches[@]} -eq 0 ]]; then
  echo "bench.sh: no benchmarks in $bench_dir; build first (make build)." >&2
  exit 1
fi

echo "# causeway benchmarks — $(date -u +%Y-%m-%dT%H:%M:%SZ), $(uname -r), $(nproc) CPUs"
echo "# cpu: $(grep -m1 'model name' /proc/cpuinfo | cut -d: -f2- | sed 's/^ *//')"
status=0
for b in "${benches[@]}"; do
  [[ -x "$b" ]] || continue
  echo
  echo "## $(basename "$b")"
  if ! "$b" "$@"; then
    echo "bench.sh: $(basename "$b") failed" >&2
    status=1
  fi
done

accuracy="$bench_dir/diagnosis_accuracy"
if [[ -x "$accuracy" ]]; then
  echo
  echo "## diagnosis_accuracy"
  if ! "$accuracy" --cases 240 --seed 1 --out "$bench_dir/diagnosis-cases"; then
    echo "bench.sh: diagnosis_accuracy failed" >&2
    status=1
  fi
fi
exit $status
