#!/usr/bin/env bash
# `make demo`: trace a workload on the simulated GPU for real, then show what causeway makes
# of it: the causal chains, an HTML report, a Perfetto timeline and the MCP client set-up.
# Where eBPF tracing is not possible (not root, no BPF), it says why and opens the sample
# investigation of the same workload (investigations/noisy_neighbor.db) instead.
set -uo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
ROOT=$(pwd)
CW="$(realpath -m "$BUILD/causeway")"
OUT="$(realpath -m "$BUILD/demo")"
SAMPLE="$ROOT/investigations/noisy_neighbor.db"
SCENARIO="$(realpath -m "$BUILD/sim/scenario_noisy_neighbor")"
mkdir -p "$OUT"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }
run() {
  printf '\033[2m$ %s\033[0m\n' "$*"
  "$@"
}

[ -x "$CW" ] || { echo "demo: $CW does not exist; run 'make demo' (it builds first)." >&2; exit 1; }

say "Can this machine trace? (causeway check)"
"$CW" check
why=""
if [ "$(id -u)" -ne 0 ]; then
  why="it is not running as root (eBPF needs root, or CAP_BPF and CAP_PERFMON)"
elif ! "$CW" check --json 2>/dev/null | grep -q '"ready": true'; then
  why="causeway check says eBPF tracing cannot work on this machine (see its verdict above)"
elif [ ! -x "$SCENARIO" ]; then
  why="the simulated GPU's scenarios are not built ($SCENARIO)"
fi

DB=""
if [ -z "$why" ]; then
  say "Tracing a noisy-neighbour workload on the simulated GPU, live (3 s)"
  echo "A training loop shares its CPU with a CPU-bound 'backup' job. Does causeway find it?"
  DB="$OUT/noisy-neighbor.db"
  rm -f "$DB" "$DB-wal" "$DB-shm"
  if ! run "$CW" trace --db "$DB" -- "$SCENARIO" --duration-ms 3000; then
    why="the live trace failed (see the message above)"
    DB=""
  fi
fi
AUDIT_FLAGS=()
if [ -z "$DB" ]; then
  say "No live trace: opening a sample investigation instead"
  echo "causeway cannot trace here because $why."
  echo "Showing investigations/noisy_neighbor.db instead: the same workload, recorded by the real"
  echo "tracer on another machine (investigations/README.md tells its story)."
  [ -f "$SAMPLE" ] || { echo "demo: $SAMPLE is missing too; nothing to show." >&2; exit 1; }
  DB="$SAMPLE"
  # The sample may sit in a read-only checkout: keep the MCP audit log in the build directory.
  AUDIT_FLAGS=(--audit-log "$OUT/noisy-neighbor.audit.jsonl")
fi

say "What was recorded (causeway stats)"
run "$CW" stats --db "$DB"

say "Why it was slow (causeway explain)"
run "$CW" explain --db "$DB" --top 3

say "An HTML report to open or share (causeway report)"
HTML="$OUT/noisy-neighbor.html"
run "$CW" report --db "$DB" -o "$HTML" --force &&
  echo "  open file://$HTML in a browser (self-contained: works offline, safe to attach)"

say "A timeline for Perfetto (causeway export)"
JSON="$OUT/noisy-neighbor.perfetto.json"
run "$CW" export --db "$DB" --format perfetto -o "$JSON" --force &&
  echo "  open https://ui.perfetto.dev, click 'Open trace file' and choose $JSON (or chrome://tracing)"

say "Hand the trace to an AI agent (MCP)"
SERVERS="$OUT/causeway-servers.json"
python3 - "$SERVERS" "$CW" mcp --db "$DB" "${AUDIT_FLAGS[@]}" <<'PY'
import json, sys
path, cw, args = sys.argv[1], sys.argv[2], sys.argv[3:]
with open(path, "w") as f:
    json.dump({"mcpServers": {"causeway": {"command": cw, "args": args}}}, f, indent=2)
    f.write("\n")
PY
echo "Claude Code:"
echo "  claude mcp add causeway -- $CW mcp --db $DB${AUDIT_FLAGS[*]:+ ${AUDIT_FLAGS[*]}}"
echo "Claude Desktop (add to claude_desktop_config.json):"
sed 's/^/  /' "$SERVERS"
echo "ollmcp (local models through Ollama; servers file written to $SERVERS):"
echo "  ollmcp --servers-json $SERVERS --model qwen2.5:14b"
echo "Then ask: \"Why was this GPU job slow? Use the causeway tools.\" (more clients: docs/mcp.md)"

say "Look further"
echo "  sqlite3 -readonly $DB 'SELECT id, severity, category, summary FROM causal_chain'"
echo "  $CW schema                       # every table and column, with units"
echo "  investigations/README.md          # three more recorded investigations to open"
