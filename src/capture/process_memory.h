// Reading another process's memory, for resolving what BPF recorded as raw addresses
// (Python code objects, interpreter structures). An interface so the Python resolver is
// tested against synthetic memory images. Thread-safety: implementations are stateless.
#pragma once

#include <cstddef>
#include <cstdint>

namespace causeway::capture {

class ProcessMemory {
 public:
  virtual ~ProcessMemory() = default;
  // Copies `len` bytes at `addr` of process `pid` into `out`; false when any byte is not
  // readable (unmapped, the process is gone, or no permission).
  virtual bool read(int32_t pid, uint64_t addr, void* out, size_t len) = 0;
};

// The live implementation: process_vm_readv(2) (needs CAP_SYS_PTRACE or the same user).
class LiveProcessMemory final : public ProcessMemory {
 public:
  bool read(int32_t pid, uint64_t addr, void* out, size_t len) override;
};

}  // namespace causeway::capture
