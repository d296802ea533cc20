#!/usr/bin/env bash
# Builds and tests causeway as on a machine without NVIDIA's CUDA toolkit (a fresh Debian 12):
# `make test` runs it after its own tests under CI=true (and `make test-nocuda` alone), so both
# set-ups are exercised on every landing.
#
#   scripts/test-without-cuda.sh [BUILD_DIR]     (default: build-nocuda)
#
# As root (CI), it first hides every /usr/local/cuda* folder behind an empty tmpfs in a private
# mount namespace (nothing outside this script sees it), so nothing can use an installed toolkit
# by accident. Then it configures BUILD_DIR with CAUSEWAY_CUDA_HOME pointing at a folder that
# does not exist, checks that no compile or link command refers to a CUDA toolkit (only
# causeway's own declarations in sim/cuda_abi/), builds everything (through ccache when it is
# installed: the translation units both builds share compile once), and runs the unit tests and
# the privileged tests that trace the simulated GPU. The tests that need NVIDIA's files report
# themselves skipped ("skipped: no CUDA toolkit at ...").
set -euo pipefail
cd "$(dirname "$0")/.."

if [ "$(id -u)" -eq 0 ] && [ -z "${CAUSEWAY_CUDA_HIDDEN:-}" ] && command -v unshare >/dev/null; then
  toolkits=$(find /usr/local -maxdepth 1 -name 'cuda*' -type d 2>/dev/null || true)
  if [ -n "$toolkits" ]; then
    echo "test-without-cuda: hiding $(echo $toolkits) from this run (private mount namespace)"
    export CAUSEWAY_CUDA_HIDDEN="$toolkits"
    exec unshare --mount --propagation private -- bash -c \
      'for d in $CAUSEWAY_CUDA_HIDDEN; do
         mount -t tmpfs -o ro,size=4k causeway-no-cuda "$d" || {
           echo "test-without-cuda: cannot hide $d; run with CAUSEWAY_CUDA_HIDDEN=none to skip hiding." >&2
           exit 1
         }
       done
       exec "$0" "$@"' "$0" "$@"
  fi
fi

build=${1:-build-nocuda}
absent=/nonexistent/cuda
jobs=$(nproc)
start=$(date +%s)

launcher=()
# Paths hashed relative to the checkout: the toolkit build's objects are reused.
export CCACHE_BASEDIR=${CCACHE_BASEDIR:-$(pwd)}
if command -v ccache >/dev/null; then
  launcher=(-DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache)
fi

if [ -e "$absent" ]; then
  echo "test-without-cuda: $absent exists; it must not, to stand for a machine without a toolkit." >&2
  exit 1
fi

cmake -S . -B "$build" -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCAUSEWAY_CUDA_HOME="$absent" \
  -DCAUSEWAY_REQUIRE_CUDA_TOOLKIT=OFF "${launcher[@]}" >/dev/null

# Nothing may compile against, or link, a CUDA toolkit: no include or library path with "cuda"
# in it other than sim/cuda_abi/ and the simulated libraries in the build folder, and no
# mention of the usual toolkit location at all.
# (The build folder's and the checkout's own paths are replaced first: they may contain "cuda".)
commands=$(cat "$build/compile_commands.json"; find "$build" -name link.txt -exec cat {} +)
commands=${commands//"$(cd "$build" && pwd)"/<build>}
commands=${commands//"$(pwd)"/<checkout>}
leaks=$(grep -oE -- '(-I|-isystem |-L|-Wl,-rpath,)[^ "]*' <<<"$commands" | grep -i cuda |
  grep -v -e '^-I<checkout>/sim/cuda_abi$' | sort -u || true)
if grep -q '/usr/local/cuda' <<<"$commands"; then
  leaks+=$'\n'"/usr/local/cuda is named in a compile or link command"
fi
if [ -n "$leaks" ]; then
  echo "test-without-cuda: the build still refers to a CUDA toolkit:" >&2
  echo "$leaks" >&2
  exit 1
fi

cmake --build "$build" -j"$jobs" >/dev/null
built=$(date +%s)
echo "test-without-cuda: configured and built $build without a CUDA toolkit in $((built - start)) s"

cd "$build"
ctest --output-on-failure -j"$jobs" -LE requires_bpf
echo "test-without-cuda: skipped for want of NVIDIA's files, as expected here:"
grep -ho 'skipped: no CUDA toolkit at [^(]*([^)]*)' Testing/Temporary/LastTest.log | sort -u
# The privileged tests that trace the simulated GPU's libraries and scenarios and analyse them,
# as `make demo` does (the stack and Python-stack tests run in the toolkit build only).
ctest --output-on-failure -L requires_bpf -R 'AnalyzeScenarioTest|CaptureTrace[.]'
echo "test-without-cuda: passed in $(($(date +%s) - start)) s"
