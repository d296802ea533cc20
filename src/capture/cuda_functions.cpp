#include "capture/cuda_functions.h"

#include <unordered_map>

namespace causeway::capture {
namespace {

struct BaseFunction {
  const char* name;
  CudaLibrary library;
  ArgLayout layout;
};

constexpr CudaLibrary R = CudaLibrary::kRuntime;
constexpr CudaLibrary D = CudaLibrary::kDriver;
using L = ArgLayout;

// Order is irrelevant to correctness; ids are assigned in this order.
constexpr BaseFunction kBases[] = {
    // Runtime: memory.
    {"cudaMalloc", R, L::kAllocDevice},
    {"cudaMallocHost", R, L::kAllocHost},
    {"cudaHostAlloc", R, L::kAllocHost},
    {"cudaMallocManaged", R, L::kAllocDevice},
    {"cudaMallocAsync", R, L::kAllocAsync},
    {"cudaMallocFromPoolAsync", R, L::kAllocAsync},
    {"cudaMallocPitch", R, L::kMallocPitch},
    {"cudaFree", R, L::kFreeDevice},
    {"cudaFreeHost", R, L::kFreeHost},
    {"cudaFreeAsync", R, L::kFreeAsync},
    {"cudaHostRegister", R, L::kNone},
    {"cudaHostUnregister", R, L::kNone},
    {"cudaMemcpy", R, L::kMemcpy},
    {"cudaMemcpyAsync", R, L::kMemcpyAsync},
    {"cudaMemcpy2D", R, L::kMemcpy2D},
    {"cudaMemcpy2DAsync", R, L::kMemcpy2DAsync},
    {"cudaMemcpyPeer", R, L::kMemcpyPeer},
    {"cudaMemcpyPeerAsync", R, L::kMemcpyPeerAsync},
    {"cudaMemset", R, L::kMemset},
    {"cudaMemsetAsync", R, L::kMemsetAsync},
    {"cudaMemGetInfo", R, L::kNone},
    // Runtime: execution.
    {"cudaLaunchKernel", R, L::kLaunch},
    {"cudaLaunchKernelExC", R, L::kLaunchExC},
    {"cudaLaunchCooperativeKernel", R, L::kLaunch},
    {"cudaLaunchHostFunc", R, L::kStreamArg0},
    {"cudaGraphLaunch", R, L::kStreamArg1},
    {"cudaGraphInstantiate", R, L::kNone},
    {"cudaGraphInstantiateWithFlags", R, L::kNone},
    {"cudaStreamBeginCapture", R, L::kStreamArg0},
    {"cudaStreamEndCapture", R, L::kStreamArg0},
    // Runtime: streams, events, synchronization.
    {"cudaStreamCreate", R, L::kStreamOut},
    {"cudaStreamCreateWithFlags", R, L::kStreamOut},
    {"cudaStreamCreateWithPriority", R, L::kStreamOut},
    {"cudaStreamDestroy", R, L::kStreamArg0},
    {"cudaStreamSynchronize", R, L::kStreamArg0},
    {"cudaStreamQuery", R, L::kStreamArg0},
    {"cudaStreamWaitEvent", R, L::kStreamArg0},
    {"cudaDeviceSynchronize", R, L::kNone},
    {"cudaEventCreate", R, L::kNone},
    {"cudaEventCreateWithFlags", R, L::kNone},
    {"cudaEventRecord", R, L::kStreamArg1},
    {"cudaEventRecordWithFlags", R, L::kStreamArg1},
    {"cudaEventSynchronize", R, L::kNone},
    {"cudaEventQuery", R, L::kNone},
    {"cudaEventElapsedTime", R, L::kNone},
    {"cudaEventDestroy", R, L::kNone},
    // Runtime: device and errors.
    {"cudaGetLastError", R, L::kNone},
    {"cudaPeekAtLastError", R, L::kNone},
    {"cudaGetErrorString", R, L::kNone},
    {"cudaGetDeviceCount", R, L::kNone},
    {"cudaSetDevice", R, L::kNone},
    {"cudaGetDevice", R, L::kNone},
    {"cudaGetDeviceProperties", R, L::kNone},
    {"cudaDeviceReset", R, L::kNone},
    {"cudaDriverGetVersion", R, L::kNone},
    {"cudaRuntimeGetVersion", R, L::kNone},
    // Driver: init, context, device.
    {"cuInit", D, L::kNone},
    {"cuDriverGetVersion", D, L::kNone},
    {"cuDeviceGet", D, L::kNone},
    {"cuDeviceGetCount", D, L::kNone},
    {"cuDevicePrimaryCtxRetain", D, L::kNone},
    {"cuCtxCreate", D, L::kNone},
    {"cuCtxSetCurrent", D, L::kNone},
    {"cuCtxSynchronize", D, L::kNone},
    {"cuModuleLoadData", D, L::kNone},
    {"cuModuleGetFunction", D, L::kNone},
    {"cuLibraryLoadData", D, L::kNone},
    // Driver: memory.
    {"cuMemAlloc", D, L::kAllocDevice},
    {"cuMemAllocHost", D, L::kAllocHost},
    {"cuMemHostAlloc", D, L::kAllocHost},
    {"cuMemAllocManaged", D, L::kAllocDevice},
    {"cuMemAllocAsync", D, L::kAllocAsync},
    {"cuMemAllocPitch", D, L::kMallocPitch},
    {"cuMemFree", D, L::kFreeDevice},
    {"cuMemFreeHost", D, L::kFreeHost},
    {"cuMemFreeAsync", D, L::kFreeAsync},
    {"cuMemcpy", D, L::kCuCopy},
    {"cuMemcpyAsync", D, L::kCuCopyAsync},
    {"cuMemcpyHtoD", D, L::kCuCopyHtoD},
    {"cuMemcpyDtoH", D, L::kCuCopyDtoH},
    {"cuMemcpyDtoD", D, L::kCuCopyDtoD},
    {"cuMemcpyHtoDAsync", D, L::kCuCopyHtoDAsync},
    {"cuMemcpyDtoHAsync", D, L::kCuCopyDtoHAsync},
    {"cuMemcpyDtoDAsync", D, L::kCuCopyDtoDAsync},
    {"cuMemcpy2D", D, L::kNone},
    {"cuMemcpy2DAsync", D, L::kNone},
    {"cuMemcpyPeer", D, L::kCuCopyPeer},
    {"cuMemcpyPeerAsync", D, L::kCuCopyPeerAsync},
    {"cuMemsetD8", D, L::kCuMemsetD8},
    {"cuMemsetD16", D, L::kCuMemsetD16},
    {"cuMemsetD32", D, L::kCuMemsetD32},
    {"cuMemsetD8Async", D, L::kCuMemsetD8Async},
    {"cuMemsetD16Async", D, L::kCuMemsetD16Async},
    {"cuMemsetD32Async", D, L::kCuMemsetD32Async},
    // Driver: execution, streams, events.
    {"cuLaunchKernel", D, L::kCuLaunch},
    {"cuLaunchKernelEx", D, L::kCuLaunchEx},
    {"cuLaunchCooperativeKernel", D, L::kCuLaunch},
    {"cuGraphLaunch", D, L::kStreamArg1},
    {"cuGraphInstantiate", D, L::kNone},
    {"cuStreamCreate", D, L::kStreamOut},
    {"cuStreamCreateWithPriority", D, L::kStreamOut},
    {"cuStreamDestroy", D, L::kStreamArg0},
    {"cuStreamSynchronize", D, L::kStreamArg0},
    {"cuStreamQuery", D, L::kStreamArg0},
    {"cuStreamWaitEvent", D, L::kStreamArg0},
    {"cuStreamBeginCapture", D, L::kStreamArg0},
    {"cuStreamEndCapture", D, L::kStreamArg0},
    {"cuEventCreate", D, L::kNone},
    {"cuEventRecord", D, L::kStreamArg1},
    {"cuEventSynchronize", D, L::kNone},
    {"cuEventQuery", D, L::kNone},
    {"cuEventElapsedTime", D, L::kNone},
    {"cuEventDestroy", D, L::kNone},
};

constexpr const char* kSuffixes[] = {"", "_v2", "_v3", "_ptsz", "_ptds", "_v2_ptsz", "_v2_ptds"};

uint32_t flags_for(ArgLayout layout) {
  switch (layout) {
    case L::kAllocDevice:
    case L::kAllocHost:
    case L::kAllocAsync:
    case L::kMallocPitch:
    case L::kStreamOut:
      return CW_CUDA_F_OUT0;
    case L::kMemcpy2D:
    case L::kMemcpy2DAsync:
    case L::kLaunch:
    case L::kCuLaunch:
      return CW_CUDA_F_STACK_ARGS;
    case L::kLaunchExC:
    case L::kCuLaunchEx:
      return CW_CUDA_F_ARG0_MEM;
    default:
      return 0;
  }
}

}  // namespace

CudaFunctionTable::CudaFunctionTable() {
  for (const auto& base : kBases) {
    for (const char* suffix : kSuffixes) {
      CudaFunction fn;
      fn.id = static_cast<uint16_t>(functions_.size());
      fn.base = base.name;
      fn.name = std::string(base.name) + suffix;
      fn.library = base.library;
      fn.layout = base.layout;
      fn.cookie_flags = flags_for(base.layout);
      functions_.push_back(std::move(fn));
    }
  }
}

const CudaFunctionTable& CudaFunctionTable::builtin() {
  static const CudaFunctionTable table;
  return table;
}

const CudaFunction* CudaFunctionTable::by_id(uint32_t id) const {
  return id < functions_.size() ? &functions_[id] : nullptr;
}

const CudaFunction* CudaFunctionTable::by_name(std::string_view name) const {
  static const auto index = [this] {
    std::unordered_map<std::string_view, const CudaFunction*> m;
    for (const auto& fn : functions_) m.emplace(fn.name, &fn);
    return m;
  }();
  auto it = index.find(name);
  return it == index.end() ? nullptr : it->second;
}

std::vector<std::string> CudaFunctionTable::bases(CudaLibrary library) const {
  std::vector<std::string> out;
  for (const auto& base : kBases) {
    if (base.library == library) out.emplace_back(base.name);
  }
  return out;
}

namespace {
uint32_t lo32(uint64_t v) {
  return static_cast<uint32_t>(v);
}
uint32_t hi32(uint64_t v) {
  return static_cast<uint32_t>(v >> 32);
}

void set_copy(store::CudaCallRow& row, uint64_t dst, uint64_t src, int64_t bytes, int32_t kind) {
  row.bytes = bytes;
  row.copy_kind = kind;
  switch (kind) {
    case 1:  // host to device
      row.device_ptr = dst;
      row.host_ptr = src;
      break;
    case 2:  // device to host
      row.device_ptr = src;
      row.host_ptr = dst;
      break;
    case 0:  // host to host
      row.host_ptr = src;
      break;
    default:  // device to device, or default (unified addressing): destination
      row.device_ptr = dst;
      break;
  }
}
}  // namespace

void decode_cuda_args(const CudaFunction& fn, const cw_cuda_call& ev, store::CudaCallRow& row) {
  const auto* a = ev.args;
  const bool out_ok = ev.valid & CW_CUDA_V_OUT0;
  const bool stack_ok = ev.valid & CW_CUDA_V_STACK_ARGS;
  const bool mem_ok = ev.valid & CW_CUDA_V_ARG0_MEM;
  const auto i64 = [](uint64_t v) { return static_cast<int64_t>(v); };
  switch (fn.layout) {
    case L::kNone:
      break;
    case L::kAllocDevice:
      row.bytes = i64(a[1]);
      if (out_ok) row.device_ptr = ev.out0;
      break;
    case L::kAllocHost:
      row.bytes = i64(a[1]);
      if (out_ok) row.host_ptr = ev.out0;
      break;
    case L::kAllocAsync:
      row.bytes = i64(a[1]);
      row.stream = a[2];
      if (out_ok) row.device_ptr = ev.out0;
      break;
    case L::kMallocPitch:
      row.bytes = i64(a[2] * a[3]);
      if (out_ok) row.device_ptr = ev.out0;
      break;
    case L::kFreeDevice:
      row.device_ptr = a[0];
      break;
    case L::kFreeHost:
      row.host_ptr = a[0];
      break;
    case L::kFreeAsync:
      row.device_ptr = a[0];
      row.stream = a[1];
      break;
    case L::kMemcpy:
      set_copy(row, a[0], a[1], i64(a[2]), static_cast<int32_t>(a[3]));
      break;
    case L::kMemcpyAsync:
      set_copy(row, a[0], a[1], i64(a[2]), static_cast<int32_t>(a[3]));
      row.stream = a[4];
      break;
    case L::kMemcpy2D:
      row.bytes = i64(a[4] * a[5]);
      if (stack_ok)
        set_copy(row, a[0], a[2], i64(a[4] * a[5]), static_cast<int32_t>(ev.stack_args[0]));
      break;
    case L::kMemcpy2DAsync:
      row.bytes = i64(a[4] * a[5]);
      if (stack_ok) {
        set_copy(row, a[0], a[2], i64(a[4] * a[5]), static_cast<int32_t>(ev.stack_args[0]));
        row.stream = ev.stack_args[1];
      }
      break;
    case L::kMemcpyPeer:
      set_copy(row, a[0], a[2], i64(a[4]), 3);
      break;
    case L::kMemcpyPeerAsync:
      set_copy(row, a[0], a[2], i64(a[4]), 3);
      row.stream = a[5];
      break;
    case L::kMemset:
      row.device_ptr = a[0];
      row.bytes = i64(a[2]);
      break;
    case L::kMemsetAsync:
      row.device_ptr = a[0];
      row.bytes = i64(a[2]);
      row.stream = a[3];
      break;
    case L::kLaunch:
      // dim3 (12 bytes) travels in two registers: {x, y} then {z}.
      row.kernel_addr = a[0];
      row.grid[0] = lo32(a[1]);
      row.grid[1] = hi32(a[1]);
      row.grid[2] = lo32(a[2]);
      row.block[0] = lo32(a[3]);
      row.block[1] = hi32(a[3]);
      row.block[2] = lo32(a[4]);
      if (stack_ok) row.stream = ev.stack_args[1];  // 7th = sharedMem, 8th = stream
      break;
    case L::kLaunchExC:
      // cudaLaunchConfig_t: dim3 gridDim, dim3 blockDim, size_t dynamicSmemBytes, stream.
      row.kernel_addr = a[1];
      if (mem_ok) {
        const auto* m = ev.arg0_mem;
        row.grid[0] = lo32(m[0]);
        row.grid[1] = hi32(m[0]);
        row.grid[2] = lo32(m[1]);
        row.block[0] = hi32(m[1]);
        row.block[1] = lo32(m[2]);
        row.block[2] = hi32(m[2]);
        row.stream = m[4];
      }
      break;
    case L::kCuLaunch:
      row.kernel_addr = a[0];
      row.grid[0] = lo32(a[1]);
      row.grid[1] = lo32(a[2]);
      row.grid[2] = lo32(a[3]);
      row.block[0] = lo32(a[4]);
      row.block[1] = lo32(a[5]);
      if (stack_ok) {
        row.block[2] = lo32(ev.stack_args[0]);
        row.stream = ev.stack_args[2];
      }
      break;
    case L::kCuLaunchEx:
      // CUlaunchConfig: gridDimX..Z, blockDimX..Z, sharedMemBytes (u32 each), CUstream at 32.
      row.kernel_addr = a[1];
      if (mem_ok) {
        const auto* m = ev.arg0_mem;
        row.grid[0] = lo32(m[0]);
        row.grid[1] = hi32(m[0]);
        row.grid[2] = lo32(m[1]);
        row.block[0] = hi32(m[1]);
        row.block[1] = lo32(m[2]);
        row.block[2] = hi32(m[2]);
        row.stream = m[4];
      }
      break;
    case L::kStreamArg0:
      row.stream = a[0];
      break;
    case L::kStreamArg1:
      row.stream = a[1];
      break;
    case L::kStreamOut:
      if (out_ok) row.stream = ev.out0;
      break;
    case L::kCuCopyHtoD:
      set_copy(row, a[0], a[1], i64(a[2]), 1);
      break;
    case L::kCuCopyDtoH:
      set_copy(row, a[0], a[1], i64(a[2]), 2);
      break;
    case L::kCuCopyDtoD:
      set_copy(row, a[0], a[1], i64(a[2]), 3);
      break;
    case L::kCuCopyHtoDAsync:
      set_copy(row, a[0], a[1], i64(a[2]), 1);
      row.stream = a[3];
      break;
    case L::kCuCopyDtoHAsync:
      set_copy(row, a[0], a[1], i64(a[2]), 2);
      row.stream = a[3];
      break;
    case L::kCuCopyDtoDAsync:
      set_copy(row, a[0], a[1], i64(a[2]), 3);
      row.stream = a[3];
      break;
    case L::kCuCopy:
      set_copy(row, a[0], a[1], i64(a[2]), 4);
      break;
    case L::kCuCopyAsync:
      set_copy(row, a[0], a[1], i64(a[2]), 4);
      row.stream = a[3];
      break;
    case L::kCuCopyPeer:
      set_copy(row, a[0], a[2], i64(a[4]), 3);
      break;
    case L::kCuCopyPeerAsync:
      set_copy(row, a[0], a[2], i64(a[4]), 3);
      row.stream = a[5];
      break;
    case L::kCuMemsetD8:
    case L::kCuMemsetD16:
    case L::kCuMemsetD32:
    case L::kCuMemsetD8Async:
    case L::kCuMemsetD16Async:
    case L::kCuMemsetD32Async: {
      int64_t width = 1;
      if (fn.layout == L::kCuMemsetD16 || fn.layout == L::kCuMemsetD16Async) width = 2;
      if (fn.layout == L::kCuMemsetD32 || fn.layout == L::kCuMemsetD32Async) width = 4;
      row.device_ptr = a[0];
      // Unsigned, like the other products of raw arguments: a garbage count wraps instead of
      // overflowing a signed multiply (undefined behaviour; found by fuzz/fuzz_decoder.cpp).
      row.bytes = i64(a[2] * static_cast<uint64_t>(width));
      if (fn.layout == L::kCuMemsetD8Async || fn.layout == L::kCuMemsetD16Async ||
          fn.layout == L::kCuMemsetD32Async)
        row.stream = a[3];
      break;
    }
  }
}

}  // namespace causeway::capture
