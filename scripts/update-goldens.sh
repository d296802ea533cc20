#!/usr/bin/env bash
# Regenerates every golden file from the current build, deliberately:
#  - tests/golden/ (CLI help, explain, stats): tests that compare against a golden file
#    rewrite it instead when CAUSEWAY_UPDATE_GOLDENS=1;
#  - tests/mcp/golden/ (MCP tool outputs): tests/mcp/update_golden.sh.
# Review `git diff tests/golden tests/mcp/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
make build BUILD="$BUILD" >/dev/null
(cd "$BUILD" && CAUSEWAY_UPDATE_GOLDENS=1 ctest -LE requires_bpf -E 'mcp_wire|mcp_golden' -j"$(nproc)" >/dev/null) || true
tests/mcp/update_golden.sh "$BUILD" >/dev/null
git status --short tests/golden tests/mcp/golden
