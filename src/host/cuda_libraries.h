// Finding the CUDA runtime (libcudart) and driver (libcuda) libraries installed on this
// machine, and asking their versions — for `causeway check` and as a fallback for
// tracing when a target's own mappings are not known yet.
//
// Thread-safe: no shared state. Reading a library never loads it into this process
// (version queries run in a short-lived child process).
#pragma once

#include <set>
#include <string>
#include <vector>

#include "common/result.h"

namespace causeway::host {

enum class CudaLibraryKind { kRuntime, kDriver };

struct CudaLibrary {
  CudaLibraryKind kind = CudaLibraryKind::kRuntime;
  std::string path;       // as found (may be a symlink)
  std::string real_path;  // symlinks resolved
  std::string soname;     // DT_SONAME, empty if none
  std::string build_id;   // hex GNU build-id; filled in by callers that read symbols
  bool stub = false;      // a link-time stub (…/stubs/…): calls cannot work
  std::string origin;     // where it was found: "--cudart", "ld.so cache", "/usr/local/cuda", …
};

// Candidate libraries, best first: explicit paths (when non-empty), then the dynamic linker
// cache, LD_LIBRARY_PATH, /usr/local/cuda, and pip-installed nvidia/*/lib wheels.
// Duplicates (same real path) are removed. Missing explicit paths are reported as errors.
Result<std::vector<CudaLibrary>> find_cuda_libraries(const std::string& cudart_override,
                                                     const std::string& cuda_override);

// The library's own version, asked by calling cudaRuntimeGetVersion / cuDriverGetVersion in
// a child process (bounded to 2 s); e.g. "13.0". Errors name why it could not be asked.
Result<std::string> query_cuda_version(const CudaLibrary& lib);

}  // namespace causeway::host
