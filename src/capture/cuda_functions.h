// The CUDA API functions capture probes, and what their raw arguments mean.
//
// Each probed symbol (a base name plus an optional versioned/per-thread suffix, e.g.
// "cuMemcpyHtoDAsync_v2_ptsz") has a stable function id for this process: the BPF cookie
// carries it, events carry it back. The argument layout says how to read bytes, stream,
// pointers, copy kind and launch dimensions from the registers and memory the BPF program
// copied (struct cw_cuda_call). Thread-safety: immutable after construction.
#pragma once

#include <cstdint>
#include <string>
#include <string_view>
#include <vector>

#include "causeway/abi/events.h"
#include "store/records.h"

namespace causeway::capture {

enum class CudaLibrary : uint8_t { kRuntime, kDriver };

// How the arguments of one function are laid out (x86-64 SysV: args[0..5] are rdi..r9,
// stack_args[0..2] the 7th..9th).
enum class ArgLayout : uint8_t {
  kNone,
  kAllocDevice,      // (T** out, size_t bytes, ...)          device_ptr = *out
  kAllocHost,        // (void** out, size_t bytes, ...)        host_ptr = *out
  kAllocAsync,       // (T** out, size_t bytes, stream)
  kMallocPitch,      // (void** out, size_t* pitch, size_t w, size_t h)
  kFreeDevice,       // (ptr)
  kFreeHost,         // (host ptr)
  kFreeAsync,        // (ptr, stream)
  kMemcpy,           // (dst, src, bytes, kind)
  kMemcpyAsync,      // (dst, src, bytes, kind, stream)
  kMemcpy2D,         // (dst, dpitch, src, spitch, width, height, kind)
  kMemcpy2DAsync,    // (... height, kind, stream)
  kMemcpyPeer,       // (dst, dstDev, src, srcDev, bytes)
  kMemcpyPeerAsync,  // (..., bytes, stream)
  kMemset,           // (ptr, value, bytes)
  kMemsetAsync,      // (ptr, value, bytes, stream)
  kLaunch,  // cudaLaunchKernel(func, dim3 grid (2 regs), dim3 block (2 regs), args, smem, stream)
  kLaunchExC,        // cudaLaunchKernelExC(const cudaLaunchConfig_t*, func, args)
  kCuLaunch,         // cuLaunchKernel(f, gx, gy, gz, bx, by, bz, smem, stream, ...)
  kCuLaunchEx,       // cuLaunchKernelEx(const CUlaunchConfig*, f, params, extra)
  kStreamArg0,       // (stream, ...)
  kStreamArg1,       // (x, stream)
  kStreamOut,        // (stream* out, ...)
  kCuCopyHtoD,       // (dstDevice, srcHost, bytes)
  kCuCopyDtoH,       // (dstHost, srcDevice, bytes)
  kCuCopyDtoD,       // (dstDevice, srcDevice, bytes)
  kCuCopyHtoDAsync,  // (..., bytes, stream)
  kCuCopyDtoHAsync,
  kCuCopyDtoDAsync,
  kCuCopy,           // cuMemcpy(dst, src, bytes): unified addressing, kind "default"
  kCuCopyAsync,      // (dst, src, bytes, stream)
  kCuCopyPeer,       // (dst, dstCtx, src, srcCtx, bytes)
  kCuCopyPeerAsync,  // (..., bytes, stream)
  kCuMemsetD8,       // (ptr, value, count) bytes = count
  kCuMemsetD16,      // bytes = 2 * count
  kCuMemsetD32,      // bytes = 4 * count
  kCuMemsetD8Async,  // (ptr, value, count, stream)
  kCuMemsetD16Async,
  kCuMemsetD32Async,
};

struct CudaFunction {
  uint16_t id = 0;
  std::string name;  // exported symbol, e.g. "cudaMemcpyAsync_ptsz"
  std::string base;  // the API name it is a variant of, e.g. "cudaMemcpyAsync"
  CudaLibrary library = CudaLibrary::kRuntime;
  ArgLayout layout = ArgLayout::kNone;
  uint32_t cookie_flags = 0;  // CW_CUDA_F_* the BPF program needs for this layout
};

class CudaFunctionTable {
 public:
  // The built-in table: every base function times the suffixes "", _v2, _v3, _ptsz, _ptds,
  // _v2_ptsz, _v2_ptds (only those present in a library get probed).
  static const CudaFunctionTable& builtin();

  const std::vector<CudaFunction>& functions() const { return functions_; }
  const CudaFunction* by_id(uint32_t id) const;
  const CudaFunction* by_name(std::string_view name) const;
  // Base API names of one library, in table order.
  std::vector<std::string> bases(CudaLibrary library) const;

 private:
  CudaFunctionTable();
  std::vector<CudaFunction> functions_;
};

// Fills the argument-derived fields of `row` (bytes, copy_kind, stream, pointers, dims,
// kernel_addr) from a raw event of function `fn`. Leaves the rest of `row` alone.
void decode_cuda_args(const CudaFunction& fn, const cw_cuda_call& ev, store::CudaCallRow& row);

}  // namespace causeway::capture
