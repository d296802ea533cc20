// Finding the CUDA libraries a process uses and the probe points inside them.
//
// /proc/PID/maps tells which files a process maps; CUDA runtime/driver libraries are
// recognised by file name (libcudart.so*, libcuda.so*), wherever they live (system,
// pip-installed nvidia/*/lib wheels, a simulated GPU). Symbols come from the ELF dynamic
// symbol table (plus .symtab when present) and are turned into file offsets, which is what
// a uprobe attaches to. Thread-safety: plain functions and values.
#pragma once

#include <sys/types.h>

#include <cstdint>
#include <optional>
#include <string>
#include <unordered_map>
#include <vector>

#include "capture/cuda_functions.h"
#include "common/result.h"
#include "host/elf_file.h"

namespace causeway::capture {

struct Mapping {
  uint64_t start = 0, end = 0, offset = 0;
  std::string perms;  // "r-xp"
  uint64_t inode = 0;
  std::string path;  // as the process sees it (its mount namespace)
};

// The file mappings of a process; a failed Result when it does not exist or is unreadable.
Result<std::vector<Mapping>> read_maps(int32_t pid);

// Which CUDA library a path is, by file name; nullopt for anything else.
std::optional<CudaLibrary> classify_cuda_library(const std::string& path);

// A CUDA library mapped by a process: `open_path` reaches the file from causeway's own
// mount namespace (/proc/PID/root/...), `path` is what the process sees.
struct CudaLibraryFile {
  CudaLibrary kind = CudaLibrary::kRuntime;
  std::string path;
  std::string open_path;
  uint64_t dev = 0, inode = 0;  // identity, from stat(open_path)
};

// CUDA libraries among a process's executable mappings (deduplicated by file).
std::vector<CudaLibraryFile> find_cuda_libraries(int32_t pid, const std::vector<Mapping>& maps);
// A user-supplied library (--cudart / --cuda); fails when the file does not exist.
Result<CudaLibraryFile> library_from_path(const std::string& path, CudaLibrary kind);

// Function symbols of one ELF file, as file offsets.
class ElfSymbols {
 public:
  static Result<ElfSymbols> load(const std::string& path);
  std::optional<uint64_t> offset_of(const std::string& name) const;
  const std::string& build_id() const { return build_id_; }
  size_t size() const { return offsets_.size(); }

 private:
  std::unordered_map<std::string, uint64_t> offsets_;
  std::string build_id_;  // hex
};

// The GNU build-id of an ELF file, hex; empty when absent or unreadable (host/elf_file.h).
using host::read_build_id;

// The library's version from its resolved file name (e.g. "13.0.96" for
// libcudart.so.13.0.96), or "" when the name carries none.
std::string library_version(const std::string& path);

}  // namespace causeway::capture
