#!/usr/bin/env bash
# Regenerates every golden file (tests/golden/) from the current build, deliberately:
# tests that compare against a golden file rewrite it instead when CAUSEWAY_UPDATE_GOLDENS=1.
# Review `git diff tests/golden` before committing.
set -euo pipefail
cd "$(dirname "$0")/.."
BUILD=${1:-build}
make build BUILD="$BUILD" >/dev/null
(cd "$BUILD" && CAUSEWAY_UPDATE_GOLDENS=1 ctest -LE requires_bpf -j"$(nproc)" >/dev/null) || true
git status --short tests/golden
