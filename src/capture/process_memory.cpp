#include "capture/process_memory.h"

#include <sys/uio.h>

namespace causeway::capture {

bool LiveProcessMemory::read(int32_t pid, uint64_t addr, void* out, size_t len) {
  if (len == 0) return true;
  iovec local{out, len};
  iovec remote{reinterpret_cast<void*>(addr), len};
  const ssize_t n = process_vm_readv(pid, &local, 1, &remote, 1, 0);
  return n == static_cast<ssize_t>(len);
}

}  // namespace causeway::capture
