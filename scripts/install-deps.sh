#!/usr/bin/env bash
# Installs every build and test dependency of causeway from Debian packages.
# Idempotent: when everything is present it only runs one dpkg-query and exits (well under 1 s).
set -euo pipefail

PACKAGES=(
  build-essential cmake make pkg-config g++ clang llvm
  # libFuzzer and the sanitizer runtimes of clang 14, for the fuzz targets (fuzz/, `make fuzz`).
  clang-14 libclang-rt-14-dev
  libbpf-dev bpftool libelf-dev zlib1g-dev libzstd-dev
  libsqlite3-dev sqlite3 nlohmann-json3-dev libcpp-httplib-dev libdw-dev liblzma-dev libbz2-dev libcli11-dev
  libgtest-dev libgmock-dev libbenchmark-dev
  python3 procps util-linux
  # Rebuilds, and the toolkit-less build `make test` adds under CI=true, reuse compiled objects.
  ccache
  # CPython 3.11 internal headers: the Python-stack layout test checks causeway's 3.11 table
  # against offsetof() on them (tests/unit/capture_python_layout_test.cpp).
  python3.11-dev
  # The HTML report's browser test (tests/report) runs Debian's headless Chromium; the fonts
  # make its screenshot legible.
  chromium fonts-dejavu-core
)

missing=()
for p in "${PACKAGES[@]}"; do
  status=$(dpkg-query -W -f='${db:Status-Status}' "$p" 2>/dev/null || true)
  [ "$status" = "installed" ] || missing+=("$p")
done
# Node.js runs the MCP wire tests (the official TypeScript SDK). Machines may carry a newer
# nodejs that bundles npm; Debian's separate npm package would conflict with it, so ask
# apt only for what is actually absent.
command -v node >/dev/null || missing+=(nodejs)
command -v npm >/dev/null || missing+=(npm)

node_deps() { "$(dirname "$0")/install-node-deps.sh"; }

if [ ${#missing[@]} -eq 0 ]; then
  node_deps
  exit 0
fi

if [ "$(id -u)" -ne 0 ]; then
  echo "install-deps: missing Debian packages: ${missing[*]}. Run 'sudo make deps' (or install them with apt-get) and try again." >&2
  exit 1
fi

echo "install-deps: installing ${missing[*]}" >&2
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
echo "install-deps: done" >&2
node_deps
