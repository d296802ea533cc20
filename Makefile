# The two set-up commands (README.md): `make demo` and `make test`. Both install what is
# missing (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo

.PHONY: all deps configure build test test-unit demo investigations bench docs format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Every test, privileged ones included (they need root + BPF; under CI=true a skip fails).
test: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)

# Tests that need no root.
test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE requires_bpf

# The build and tests of a machine without NVIDIA's CUDA toolkit, in $(BUILD)-nocuda (CI runs
# it after `test`; scripts/test-without-cuda.sh says what it runs).
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
