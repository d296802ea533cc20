#!/usr/bin/env bash
# Installs the npm packages the node-driven tests need (package.json / package-lock.json at the
# repository top: the official MCP TypeScript SDK and ajv for the MCP wire tests,
# playwright-core for the HTML report's browser test), exactly as locked.
# Idempotent: when node_modules already matches the lock file it only compares two files.
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
cd "$root"

if ! command -v node >/dev/null || ! command -v npm >/dev/null; then
  echo "install-node-deps: node and npm are needed for the MCP wire tests; install Debian's nodejs and npm packages." >&2
  exit 1
fi
# npm writes node_modules/.package-lock.json after a successful install; equal content means
# the tree is what the lock file asks for.
stamp=node_modules/.causeway-lock.sha256
want="$(sha256sum package-lock.json | cut -d' ' -f1)"
if [ -f "$stamp" ] && [ "$(cat "$stamp")" = "$want" ] && [ -d node_modules/@modelcontextprotocol/sdk ] &&
  [ -d node_modules/playwright-core ]; then
  exit 0
fi
echo "install-node-deps: installing npm packages from package-lock.json" >&2
npm ci --no-audit --no-fund --loglevel=error >/dev/null
echo "$want" > "$stamp"
echo "install-node-deps: done" >&2
