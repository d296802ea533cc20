#!/usr/bin/env bash
# Regenerates tests/mcp/golden/*.json from the current build, on purpose. Review the diff
# before committing: a changed golden file is a changed tool output.
#   tests/mcp/update_golden.sh [BUILD_DIR]     (default: build)
set -euo pipefail
root="$(cd "$(dirname "$0")/../.." && pwd)"
build="${1:-$root/build}"
cmake --build "$build" --target causeway make_fixture_trace >/dev/null
CAUSEWAY_UPDATE_GOLDEN=1 CAUSEWAY_SOURCE_DIR="$root" CAUSEWAY_BIN="$build/causeway" \
  CAUSEWAY_FIXTURE_BIN="$build/make_fixture_trace" \
  node --test "$root/tests/mcp/golden.test.mjs" >/dev/null
git -C "$root" status --short tests/mcp/golden
