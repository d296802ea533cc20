#!/usr/bin/env bash
# `make demo`: trace a workload on the simulated GPU for real, then show what causeway makes
# of it. Needs root for eBPF; without it, says why and shows what can be shown.
set -uo pipefail
BUILD=${1:-build}
cd "$(dirname "$0")/.."
CW="$BUILD/causeway"
OUT="$BUILD/demo"
mkdir -p "$OUT"
DB="$OUT/noisy-neighbor.db"
SCENARIO="$BUILD/sim/scenario_noisy_neighbor"

say() { printf '\n\033[1m== %s\033[0m\n' "$*"; }

say "Can this machine trace? (causeway check)"
if ! "$CW" check; then
  echo
  echo "causeway: eBPF tracing is not possible here (see the verdict above); run 'make demo' as root on a machine with BPF."
  exit 1
fi

say "Tracing a noisy-neighbour workload on the simulated GPU"
echo "\$ $CW trace --db $DB -- $SCENARIO --duration-ms 3000"
rm -f "$DB" "$DB-wal" "$DB-shm"
"$CW" trace --db "$DB" -- "$SCENARIO" --duration-ms 3000 || { echo "causeway: the traced demo workload failed (see above)."; exit 1; }

say "What was recorded (causeway stats)"
"$CW" stats --db "$DB"
say "Why it was slow (causeway explain)"
"$CW" explain --db "$DB" --top 5

say "A timeline for Perfetto (causeway export)"
"$CW" export --db "$DB" --format perfetto -o "$OUT/noisy-neighbor.perfetto.json" --force &&
  echo "  wrote $OUT/noisy-neighbor.perfetto.json: open it at https://ui.perfetto.dev or chrome://tracing"

say "Hand the trace to an AI agent (MCP)"
echo "  Claude Code:  claude mcp add causeway -- $(realpath "$CW") mcp --db $(realpath "$DB")"
echo "  Claude Desktop (claude_desktop_config.json):"
echo "    {\"mcpServers\": {\"causeway\": {\"command\": \"$(realpath "$CW")\", \"args\": [\"mcp\", \"--db\", \"$(realpath "$DB")\"]}}}"
echo "  More clients (ollmcp, MCP Inspector): docs/mcp.md"

say "Look at the raw trace yourself"
echo "  sqlite3 $DB 'SELECT function, count(*), sum(dur)/1e6 AS ms FROM cuda_calls GROUP BY 1 ORDER BY 3 DESC'"
echo "  $CW schema            # every table and column, with units"
