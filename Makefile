# The two set-up commands (README.md): `make demo` and `make test`. Both install what is
# missing (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps configure build test test-unit demo investigations bench docs format clean

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
# Under CI=true it then builds and tests the checkout as on a machine without NVIDIA's CUDA
# toolkit (scripts/test-without-cuda.sh, in $(BUILD)-nocuda), so both set-ups are checked on
# every landing.
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@if [ "$${CI:-}" = true ]; then scripts/test-without-cuda.sh $(BUILD)-nocuda; fi

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
	@rm -rf $(BUILD)
