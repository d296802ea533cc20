// Operations shared by the legacy-stream (driver_api.cpp) and per-thread-stream
// (driver_api_ptsz.cpp) driver entry points. Each returns the CUresult the entry point returns.
// Thread-safe; sizes in bytes.
#pragma once

#include <cuda.h>

#include <cstddef>

namespace causeway::sim {

// cuInit has run (every other entry point but the error-string ones requires it).
bool initialized();

// Which directions a copy entry point promises; checked against the allocation registry.
enum class CopyDirection { kAny, kHostToDevice, kDeviceToHost, kDeviceToDevice };

// One 2-D copy (a 1-D copy is height 1 with pitch = width). Pinned/device memory on both sides
// is queued as one device op; pageable host memory is staged through the calling thread
// (docs/simulated-gpu.md, "Copies"). `synchronous` entry points also wait for completion.
CUresult copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
              size_t height, CopyDirection direction, CUstream stream, bool synchronous);

CUresult memset_d8(CUdeviceptr dst, unsigned char value, size_t bytes, CUstream stream);

CUresult launch(CUfunction function, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                unsigned int block_x, unsigned int block_y, unsigned int block_z, CUstream stream);

CUresult alloc_async(CUdeviceptr* dptr, size_t bytes, CUstream stream);
CUresult free_async(CUdeviceptr dptr, CUstream stream);

// Converts a CUDA_MEMCPY2D (host/device/unified memory types; arrays are not simulated).
CUresult copy_2d(const CUDA_MEMCPY2D* params, CUstream stream, bool synchronous);

}  // namespace causeway::sim

// Forces a frame (push %rbp; mov %rsp,%rbp) in an entry point GCC would otherwise compile as a
// frameless leaf: uprobes must find `push %rbp` first (see sim/CMakeLists.txt).
#define CAUSEWAY_SIM_ENTRY_FRAME() __asm__ volatile("" ::"r"(__builtin_frame_address(0)))

#define CAUSEWAY_SIM_REQUIRE_INIT() \
  if (!::causeway::sim::initialized()) return CUDA_ERROR_NOT_INITIALIZED
