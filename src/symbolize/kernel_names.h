// Names of launched kernels (cuda_kernel.name_id), from the address a CUDA runtime launch
// passed as `func`.
//
// cudaLaunchKernel & co. take the kernel's host function: with nvcc, a host function that
// carries the kernel's own (mangled) name and calls the __device_stub__ that launches it; with
// clang, the stub itself. That address is symbolized like a stack frame (the process's
// recorded mappings, build-ids checked: module_symbolizer.h), so a binary rebuilt since the
// trace names nothing rather than the wrong thing.
//
// Driver launches (cuLaunchKernel*) pass a CUfunction, a handle the driver allocated (from
// cuModuleGetFunction / cuKernelGetFunction), not code: its value names nothing, and the
// recorder does not capture the name those lookups were given. A kernel row used only by
// driver launches therefore keeps name_id NULL. A row shared by both (one value passed to a
// runtime and a driver launch, as the simulated runtime forwards its `func` to
// cuLaunchKernel) is named from the runtime's meaning of the value.
//
// Thread-safety: kernel_name is a pure function; name_kernels uses the connection and the
// symbolizer it is given from the calling thread only.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3;

namespace causeway::symbolize {

class StackSymbolizer;

// The kernel's own name, given the demangled name of the function at a launch's `func`
// address. A device stub is named after its kernel: nvcc's "__device_stub__Z6vecAddPfi(float*,
// int)" embeds the kernel's mangled name without its leading '_' and becomes "vecAdd(float*,
// int)"; clang's "ns::__device_stub__vecAdd(float*, int)" becomes "ns::vecAdd(float*, int)".
// Any other name is returned unchanged.
std::string kernel_name(std::string_view function);

struct KernelNamingSummary {
  int64_t kernels = 0;  // unnamed kernel rows launched through the runtime API, looked up
  int64_t named = 0;    // of those, rows that got a name
};

// For symbolize_and_store, inside its transaction on `db` (a writable trace): names every
// cuda_kernel row that has an address, no name yet and at least one runtime-API launch
// (a cuda_call whose function starts with "cuda"), storing the name in `string` and
// cuda_kernel.name_id. Rows already named (a name is verified when stored, so it stays right)
// and rows whose address cannot be resolved (no mapping, binary changed, missing or
// unverifiable, no symbol) are left alone, so running it again changes nothing.
// `symbolizer` is the one the stacks were symbolized with (its opened modules are reused).
// Fails with one sentence on an SQLite error; the caller rolls back.
Result<KernelNamingSummary> name_kernels(sqlite3* db, StackSymbolizer& symbolizer);

}  // namespace causeway::symbolize
