// libcuda.so.1 of the simulated GPU: the driver entry points with stream 0 meaning the legacy
// default stream, plus everything that takes no stream. Definitions use cuda.h's names, so
// `cuMemAlloc` here defines NVIDIA's exported symbol cuMemAlloc_v2, and so on.
#include <cuda.h>

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "driver_ops.h"
#include "engine.h"

namespace causeway::sim {
extern std::atomic<bool> g_initialized;
}  // namespace causeway::sim

namespace {

constexpr bool kPerThreadDefault = false;

using causeway::sim::Engine;
using causeway::sim::MemoryKind;

CUctx_st g_primary_context;
thread_local CUcontext t_current_context = nullptr;

struct ErrorText {
  CUresult code;
  const char* name;
  const char* description;
};

// The codes the simulation returns, with NVIDIA's names and descriptions.
constexpr ErrorText kErrors[] = {
    {CUDA_SUCCESS, "CUDA_SUCCESS", "no error"},
    {CUDA_ERROR_INVALID_VALUE, "CUDA_ERROR_INVALID_VALUE", "invalid argument"},
    {CUDA_ERROR_OUT_OF_MEMORY, "CUDA_ERROR_OUT_OF_MEMORY", "out of memory"},
    {CUDA_ERROR_NOT_INITIALIZED, "CUDA_ERROR_NOT_INITIALIZED", "initialization error"},
    {CUDA_ERROR_NO_DEVICE, "CUDA_ERROR_NO_DEVICE", "no CUDA-capable device is detected"},
    {CUDA_ERROR_INVALID_DEVICE, "CUDA_ERROR_INVALID_DEVICE", "invalid device ordinal"},
    {CUDA_ERROR_INVALID_CONTEXT, "CUDA_ERROR_INVALID_CONTEXT", "invalid device context"},
    {CUDA_ERROR_INVALID_HANDLE, "CUDA_ERROR_INVALID_HANDLE", "invalid resource handle"},
    {CUDA_ERROR_ILLEGAL_STATE, "CUDA_ERROR_ILLEGAL_STATE",
     "the operation cannot be performed in the present state"},
    {CUDA_ERROR_NOT_READY, "CUDA_ERROR_NOT_READY", "device not ready"},
    {CUDA_ERROR_NOT_SUPPORTED, "CUDA_ERROR_NOT_SUPPORTED", "operation not supported"},
    {CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED, "CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED",
     "operation not permitted when stream is capturing"},
    {CUDA_ERROR_STREAM_CAPTURE_INVALIDATED, "CUDA_ERROR_STREAM_CAPTURE_INVALIDATED",
     "operation failed due to a previous error during capture"},
    {CUDA_ERROR_UNKNOWN, "CUDA_ERROR_UNKNOWN", "unknown error"},
};

const ErrorText* find_error(CUresult code) {
  for (const ErrorText& entry : kErrors) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

}  // namespace

#include "driver_stream_api.inc"

extern "C" {

CUresult CUDAAPI cuInit(unsigned int Flags) {
  if (Flags != 0) return CUDA_ERROR_INVALID_VALUE;
  Engine::get();  // starts the device worker
  causeway::sim::g_initialized.store(true, std::memory_order_release);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDriverGetVersion(int* driverVersion) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  if (driverVersion == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *driverVersion = CUDA_VERSION;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuGetErrorString(CUresult error, const char** pStr) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* entry = find_error(error);
  *pStr = entry != nullptr ? entry->description : nullptr;
  return entry != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuGetErrorName(CUresult error, const char** pStr) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  if (pStr == nullptr) return CUDA_ERROR_INVALID_VALUE;
  const ErrorText* entry = find_error(error);
  *pStr = entry != nullptr ? entry->name : nullptr;
  return entry != nullptr ? CUDA_SUCCESS : CUDA_ERROR_INVALID_VALUE;
}

CUresult CUDAAPI cuDeviceGetCount(int* count) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (count == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *count = 1;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGet(CUdevice* device, int ordinal) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (device == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (ordinal != 0) return CUDA_ERROR_INVALID_DEVICE;
  *device = 0;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDeviceGetName(char* name, int len, CUdevice dev) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (name == nullptr || len <= 0) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  std::strncpy(name, "causeway simulated GPU", static_cast<size_t>(len) - 1);
  name[len - 1] = '\0';
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRetain(CUcontext* pctx, CUdevice dev) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  *pctx = &g_primary_context;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuDevicePrimaryCtxRelease(CUdevice dev) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return dev == 0 ? CUDA_SUCCESS : CUDA_ERROR_INVALID_DEVICE;
}

CUresult CUDAAPI cuCtxCreate(CUcontext* pctx, CUctxCreateParams*, unsigned int, CUdevice dev) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (dev != 0) return CUDA_ERROR_INVALID_DEVICE;
  // Contexts are bookkeeping only: every context shares the one simulated device.
  *pctx = new CUctx_st;
  t_current_context = *pctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxDestroy(CUcontext ctx) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (ctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (t_current_context == ctx) t_current_context = nullptr;
  if (ctx != &g_primary_context) delete ctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSetCurrent(CUcontext ctx) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  t_current_context = ctx;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxGetCurrent(CUcontext* pctx) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (pctx == nullptr) return CUDA_ERROR_INVALID_VALUE;
  *pctx = t_current_context;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuCtxSynchronize(void) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  Engine::get().wait_for_all();
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAlloc(CUdeviceptr* dptr, size_t bytesize) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  void* ptr = Engine::get().allocate(bytesize, MemoryKind::kDevice);
  if (ptr == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = reinterpret_cast<CUdeviceptr>(ptr);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocManaged(CUdeviceptr* dptr, size_t bytesize, unsigned int flags) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (dptr == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  if (flags != CU_MEM_ATTACH_GLOBAL && flags != CU_MEM_ATTACH_HOST) return CUDA_ERROR_INVALID_VALUE;
  void* ptr = Engine::get().allocate(bytesize, MemoryKind::kManaged);
  if (ptr == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = reinterpret_cast<CUdeviceptr>(ptr);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFree(CUdeviceptr dptr) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (dptr == 0) return CUDA_SUCCESS;
  Engine& engine = Engine::get();
  void* ptr = reinterpret_cast<void*>(dptr);
  if (!engine.unregister(ptr, false)) return CUDA_ERROR_INVALID_VALUE;
  // Like CUDA's, a free synchronizes the whole device first: queued work may still use the memory.
  engine.wait_for_all();
  std::free(ptr);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemAllocHost(void** pp, size_t bytesize) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (pp == nullptr || bytesize == 0) return CUDA_ERROR_INVALID_VALUE;
  void* ptr = Engine::get().allocate(bytesize, MemoryKind::kPinned);
  if (ptr == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *pp = ptr;
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuMemFreeHost(void* p) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (p == nullptr) return CUDA_SUCCESS;
  Engine& engine = Engine::get();
  if (!engine.unregister(p, true)) return CUDA_ERROR_INVALID_VALUE;
  engine.wait_for_all();
  std::free(p);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamCreate(CUstream* phStream, unsigned int Flags) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (phStream == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if ((Flags & ~static_cast<unsigned int>(CU_STREAM_NON_BLOCKING)) != 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  *phStream = Engine::get().create_stream(Flags);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuStreamDestroy(CUstream hStream) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().destroy_stream(hStream) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventCreate(CUevent* phEvent, unsigned int Flags) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (phEvent == nullptr) return CUDA_ERROR_INVALID_VALUE;
  constexpr unsigned int kKnown =
      CU_EVENT_BLOCKING_SYNC | CU_EVENT_DISABLE_TIMING | CU_EVENT_INTERPROCESS;
  if ((Flags & ~kKnown) != 0) return CUDA_ERROR_INVALID_VALUE;
  *phEvent = Engine::get().create_event(Flags);
  return CUDA_SUCCESS;
}

CUresult CUDAAPI cuEventDestroy(CUevent hEvent) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().destroy_event(hEvent) ? CUDA_SUCCESS : CUDA_ERROR_INVALID_HANDLE;
}

CUresult CUDAAPI cuEventSynchronize(CUevent hEvent) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().synchronize_event(hEvent);
}

CUresult CUDAAPI cuEventQuery(CUevent hEvent) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().query_event(hEvent);
}

CUresult CUDAAPI cuEventElapsedTime(float* pMilliseconds, CUevent hStart, CUevent hEnd) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (pMilliseconds == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Engine::get().elapsed_ms(hStart, hEnd, pMilliseconds);
}

CUresult CUDAAPI cuGraphInstantiate(CUgraphExec* phGraphExec, CUgraph hGraph, unsigned long long) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  if (phGraphExec == nullptr) return CUDA_ERROR_INVALID_VALUE;
  return Engine::get().instantiate(hGraph, phGraphExec);
}

CUresult CUDAAPI cuGraphDestroy(CUgraph hGraph) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().destroy_graph(hGraph);
}

CUresult CUDAAPI cuGraphExecDestroy(CUgraphExec hGraphExec) {
  CAUSEWAY_SIM_REQUIRE_INIT();
  return Engine::get().destroy_graph_exec(hGraphExec);
}

}  // extern "C"
