# The two set-up commands (README.md): `make demo` and `make test`. Both install what is
# missing (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# The fuzzers (fuzz/, docs/security.md#fuzzing) build with clang, ASan and UBSan in their own tree.
FUZZ_BUILD ?= build-fuzz
# -O1 with line tables only, as fuzzers are usually built: lighter to compile under the
# sanitizers (a cold build, as in CI, took 5 min 36 s on 2 cores: docs/security.md).
FUZZ_CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo -DCMAKE_C_FLAGS_RELWITHDEBINFO=-O1\ -gline-tables-only \
  -DCMAKE_CXX_FLAGS_RELWITHDEBINFO=-O1\ -gline-tables-only
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps configure build test test-unit fuzz-build fuzz demo investigations bench docs format clean

all: build

deps:
	@scripts/install-deps.sh

# Through ccache when it is installed (scripts/install-deps.sh installs it): rebuilds, and the
# toolkit-less build CI runs next to this one, compile only what changed. Paths are hashed
# relative to the checkout so that the two build folders share the cache.
export CCACHE_BASEDIR ?= $(CURDIR)
configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Every test, privileged ones included (they need root + BPF; under CI=true a skip fails).
# Under CI=true it then also runs each fuzzer for 10 s (ctest label `fuzz` in $(FUZZ_BUILD))
# and builds and tests the checkout as on a machine without NVIDIA's CUDA toolkit
# (scripts/test-without-cuda.sh, in $(BUILD)-nocuda), so all three are checked on every landing.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@if [ "$${CI:-}" = true ]; then $(MAKE) --no-print-directory fuzz-build && \
	  cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz; fi
	@if [ "$${CI:-}" = true ]; then scripts/test-without-cuda.sh $(BUILD)-nocuda; fi

# The libFuzzer targets, compiled by clang with ASan and UBSan (through ccache when installed).
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCAUSEWAY_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 $(FUZZ_CMAKE_FLAGS) \
	  $$(command -v ccache >/dev/null && echo -DCMAKE_C_COMPILER_LAUNCHER=ccache -DCMAKE_CXX_COMPILER_LAUNCHER=ccache) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all

# Runs every fuzzer (or FUZZ_TARGETS) for FUZZ_SECONDS each; exits 1 on a crash, hang or leak
# and names the input it left in $(FUZZ_BUILD)/fuzz/crashes/<target>/.
fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Tests that need no root.
test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE requires_bpf

# The build and tests of a machine without NVIDIA's CUDA toolkit, in $(BUILD)-nocuda (`make
# test` runs it too under CI=true; scripts/test-without-cuda.sh says what it runs).
.PHONY: test-nocuda
test-nocuda: deps
	@scripts/test-without-cuda.sh $(BUILD)-nocuda

demo: build
	@scripts/demo.sh $(BUILD)

# Re-record the sample investigations (investigations/*.db; needs root and BPF).
investigations: build
	@scripts/make-investigations.sh $(BUILD)

bench: build
	@scripts/bench.sh $(BUILD)

# Regenerate generated documentation (docs/schema.md) from the schema in code.
docs: build
	@$(BUILD)/causeway schema --format markdown > docs/schema.md

format:
	@git ls-files '*.cpp' '*.h' '*.c' | xargs clang-format -i

clean:
	@rm -rf $(BUILD) $(FUZZ_BUILD)
