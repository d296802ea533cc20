#!/usr/bin/env bash
# Regenerates the sample investigations (investigations/<name>.db): each simulated pathology
# (sim/scenarios) traced by the real tracer, `causeway trace`, with its causal chains stored,
# then compacted (VACUUM, rollback journal instead of WAL so it opens from a read-only
# checkout) and checked: at most 2 MB, and its top chain names the expected cause. The
# "What causeway finds" block of each investigation in investigations/README.md is rewritten
# from the new trace (`causeway explain --top 2`).
#
#   sudo scripts/make-investigations.sh [BUILD]      (BUILD defaults to build)
#
# The traces are recorded by BUILD/causeway (or by $CAUSEWAY_TRACER, e.g. an installed
# causeway) and always analysed and stored by BUILD/causeway, so their stored chains are
# the ones this build computes.
#
# Needs root with BPF (`causeway check` says), sqlite3, and a built BUILD (causeway and
# sim_all). A run takes about half a minute. Fully automatic: a trace that comes out too big
# is retaken shorter, one whose top chain is not the expected cause (a busy machine) is
# retaken, up to 4 attempts, and the script fails with one sentence if that does not help.
# Existing investigations are replaced only once the new one passed its checks.
set -uo pipefail
cd "$(dirname "$0")/.."
ROOT=$(pwd)
BUILD=$(realpath -m "${1:-build}")
CW="$BUILD/causeway"
TRACER=$(realpath -m "${CAUSEWAY_TRACER:-$CW}")
OUT="$ROOT/investigations"
MAX_BYTES=$((2 * 1024 * 1024))

die() { echo "make-investigations: $*" >&2; exit 1; }

[ -x "$CW" ] || die "$CW does not exist; build first (make, or cmake --build $BUILD)."
[ -x "$BUILD/sim/scenario_dataloader" ] || die "$BUILD/sim has no scenarios; build the sim_all target."
command -v sqlite3 >/dev/null || die "sqlite3 is missing; run scripts/install-deps.sh."
[ -x "$TRACER" ] || die "the tracer $TRACER does not exist."
if ! "$TRACER" check --json 2>/dev/null | grep -q '"ready": true'; then
  die "eBPF tracing is not possible here (see '$TRACER check'); run as root on a machine with BPF."
fi
mkdir -p "$OUT"
WORK=$(mktemp -d "${TMPDIR:-/tmp}/causeway-investigations.XXXXXX")
trap 'rm -rf "$WORK"' EXIT

# name | scenario binary | flags | accepted top categories (space-separated)
# The durations keep each database well under 2 MB.
SCENARIOS=(
  "dataloader|scenario_dataloader|--duration-ms 1500|data_loader lock_wait"
  "noisy_neighbor|scenario_noisy_neighbor|--duration-ms 1500|cpu_contention"
  "host_sync|scenario_host_sync|--duration-ms 400|host_sync"
  "alloc_churn|scenario_alloc_churn|--duration-ms 1500|allocator_churn"
)
# The data loader reads its samples with O_DIRECT from a new directory under $TMPDIR or
# /var/tmp; on tmpfs the reads would not reach the block layer, so use /var/tmp then.
if [ "$(stat -f -c %T "${TMPDIR:-/tmp}" 2>/dev/null)" = tmpfs ]; then
  export TMPDIR=/var/tmp
fi

# Rewrites the block between <!-- BEGIN causeway explain NAME --> and <!-- END ... --> in
# investigations/README.md with the given file's contents.
update_readme() {
  local name=$1 file=$2 readme="$OUT/README.md"
  [ -f "$readme" ] || return 0
  python3 - "$readme" "$name" "$file" <<'PY'
import sys, re
readme, name, file = sys.argv[1:]
text = open(readme, encoding="utf-8").read()
block = open(file, encoding="utf-8").read().rstrip("\n")
begin, end = f"<!-- BEGIN causeway explain {name} -->", f"<!-- END causeway explain {name} -->"
if begin in text and end in text:
    head, rest = text.split(begin, 1)
    _, tail = rest.split(end, 1)
    text = head + begin + "\n```\n" + block + "\n```\n" + end + tail
    open(readme, "w", encoding="utf-8").write(text)
PY
}

status=0
for entry in "${SCENARIOS[@]}"; do
  IFS='|' read -r name binary flags accepted <<<"$entry"
  db="$WORK/$name.db"
  ok=0
  scale=1
  for attempt in 1 2 3 4; do
    rm -f "$db" "$db-wal" "$db-shm"
    # Shorter runs after a trace came out too big.
    run_flags=$(echo "$flags" | awk -v s="$scale" '{for (i = 1; i <= NF; i++) { if ($(i-1) == "--duration-ms") $i = int($i / s) } print}')
    echo "make-investigations: $name (attempt $attempt): causeway trace -- ./$binary $run_flags" >&2
    # Run from the scenario's directory so the recorded command line is short and portable.
    if ! (cd "$BUILD/sim" && "$TRACER" trace --db "$db" -- "./$binary" $run_flags >"$WORK/$name.out" 2>"$WORK/$name.err"); then
      echo "make-investigations: tracing $name failed:" >&2
      tail -5 "$WORK/$name.err" >&2
      continue
    fi
    # Store this build's analysis (chains and statistics) in the trace.
    "$CW" explain --db "$db" --recompute >/dev/null 2>"$WORK/$name.err" ||
      { echo "make-investigations: analysing $name failed: $(cat "$WORK/$name.err")" >&2; continue; }
    # Compact: rollback journal (a WAL database cannot be opened in a read-only directory),
    # then VACUUM. Row ids are INTEGER PRIMARY KEYs, so stored chains and evidence stay valid.
    sqlite3 "$db" 'PRAGMA journal_mode = DELETE; VACUUM;' >/dev/null || die "compacting $db failed."
    size=$(stat -c %s "$db")
    if [ "$size" -gt "$MAX_BYTES" ]; then
      echo "make-investigations: $name is $size bytes (> $MAX_BYTES); retaking it shorter." >&2
      scale=$((scale * 2))
      continue
    fi
    top=$("$CW" explain --db "$db" --json 2>/dev/null | python3 -c 'import json,sys; c=json.load(sys.stdin)["chains"]; print(c[0]["category"] if c else "none")')
    if ! grep -qw -- "$top" <<<"$accepted"; then
      echo "make-investigations: $name: the top chain is $top, expected one of: $accepted (a busy machine?); retaking it." >&2
      continue
    fi
    ok=1
    break
  done
  if [ $ok -ne 1 ]; then
    echo "make-investigations: could not record a good $name investigation in 4 attempts; the old one (if any) is kept." >&2
    status=1
    continue
  fi
  mv -f "$db" "$OUT/$name.db"
  rm -f "$OUT/$name.db-wal" "$OUT/$name.db-shm"
  (cd "$OUT" && "$CW" explain --db "$name.db" --top 2 >"$WORK/$name.explain" 2>/dev/null)
  update_readme "$name" "$WORK/$name.explain"
  printf 'make-investigations: wrote investigations/%s.db (%s bytes, top chain %s)\n' "$name" "$(stat -c %s "$OUT/$name.db")" "$top"
done
exit $status
