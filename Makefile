# The two set-up commands (README.md): `make demo` and `make test`. Both install what is
# missing (scripts/install-deps.sh), build, and run.
BUILD ?= build
JOBS ?= $(shell nproc)
CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
# The fuzzers (fuzz/, docs/security.md#fuzzing) build with clang, ASan and UBSan in their own tree.
FUZZ_BUILD ?= build-fuzz
FUZZ_CMAKE_FLAGS ?= -DCMAKE_BUILD_TYPE=RelWithDebInfo
FUZZ_SECONDS ?= 60
FUZZ_TARGETS ?=

.PHONY: all deps configure build test test-unit fuzz-build fuzz demo investigations bench docs format clean

all: build

deps:
	@scripts/install-deps.sh

configure: deps
	@cmake -S . -B $(BUILD) $(CMAKE_FLAGS) >/dev/null

build: configure
	@cmake --build $(BUILD) -j$(JOBS)

# Every test, privileged ones included (they need root + BPF; under CI=true a skip fails), then
# each fuzzer for 10 s (ctest label `fuzz` in $(FUZZ_BUILD)).
test: build fuzz-build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS)
	@cd $(FUZZ_BUILD) && ctest --output-on-failure -L fuzz

# The libFuzzer targets, compiled by clang with ASan and UBSan.
fuzz-build: deps
	@cmake -S . -B $(FUZZ_BUILD) -DCAUSEWAY_FUZZ=ON -DCMAKE_C_COMPILER=clang-14 \
	  -DCMAKE_CXX_COMPILER=clang++-14 $(FUZZ_CMAKE_FLAGS) >/dev/null
	@cmake --build $(FUZZ_BUILD) -j$(JOBS) --target fuzz_all

# Runs every fuzzer (or FUZZ_TARGETS) for FUZZ_SECONDS each; exits 1 on a crash, hang or leak
# and names the input it left in $(FUZZ_BUILD)/fuzz/crashes/<target>/.
fuzz: fuzz-build
	@scripts/fuzz.sh $(FUZZ_BUILD) $(FUZZ_SECONDS) $(FUZZ_TARGETS)

# Tests that need no root.
test-unit: build
	@cd $(BUILD) && ctest --output-on-failure -j$(JOBS) -LE requires_bpf

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
