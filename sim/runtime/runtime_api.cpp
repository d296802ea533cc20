// libcudart.so.13 of the simulated GPU: NVIDIA's runtime API (legacy default stream flavour and
// everything that takes no stream), layered on the simulated driver exactly as NVIDIA's runtime
// is layered on libcuda.so.1. Every entry point records failures for cudaGetLastError.
#include <cuda_runtime_api.h>

#include "driver_link.h"

namespace {
constexpr bool kPerThreadDefault = false;

struct RuntimeErrorText {
  cudaError_t code;
  const char* name;
  const char* description;
};

// The codes the simulation returns, with NVIDIA's names and descriptions.
constexpr RuntimeErrorText kRuntimeErrors[] = {
    {cudaSuccess, "cudaSuccess", "no error"},
    {cudaErrorInvalidValue, "cudaErrorInvalidValue", "invalid argument"},
    {cudaErrorMemoryAllocation, "cudaErrorMemoryAllocation", "out of memory"},
    {cudaErrorInitializationError, "cudaErrorInitializationError", "initialization error"},
    {cudaErrorInvalidConfiguration, "cudaErrorInvalidConfiguration",
     "invalid configuration argument"},
    {cudaErrorInvalidPitchValue, "cudaErrorInvalidPitchValue", "invalid pitch argument"},
    {cudaErrorInvalidMemcpyDirection, "cudaErrorInvalidMemcpyDirection",
     "invalid copy direction for memcpy"},
    {cudaErrorInsufficientDriver, "cudaErrorInsufficientDriver",
     "CUDA driver version is insufficient for CUDA runtime version"},
    {cudaErrorNoDevice, "cudaErrorNoDevice", "no CUDA-capable device is detected"},
    {cudaErrorInvalidDevice, "cudaErrorInvalidDevice", "invalid device ordinal"},
    {cudaErrorDeviceUninitialized, "cudaErrorDeviceUninitialized", "invalid device context"},
    {cudaErrorInvalidDeviceFunction, "cudaErrorInvalidDeviceFunction", "invalid device function"},
    {cudaErrorInvalidResourceHandle, "cudaErrorInvalidResourceHandle", "invalid resource handle"},
    {cudaErrorIllegalState, "cudaErrorIllegalState",
     "the operation cannot be performed in the present state"},
    {cudaErrorNotReady, "cudaErrorNotReady", "device not ready"},
    {cudaErrorNotSupported, "cudaErrorNotSupported", "operation not supported"},
    {cudaErrorStreamCaptureUnsupported, "cudaErrorStreamCaptureUnsupported",
     "operation not permitted when stream is capturing"},
    {cudaErrorStreamCaptureInvalidated, "cudaErrorStreamCaptureInvalidated",
     "operation failed due to a previous error during capture"},
    {cudaErrorUnknown, "cudaErrorUnknown", "unknown error"},
};

const RuntimeErrorText* find_runtime_error(cudaError_t code) {
  for (const RuntimeErrorText& entry : kRuntimeErrors) {
    if (entry.code == code) return &entry;
  }
  return nullptr;
}

// The device is current per thread; only device 0 exists.
thread_local int t_device = 0;

}  // namespace

#include "runtime_stream_api.inc"

extern "C" {

cudaError_t CUDARTAPI cudaGetDeviceCount(int* count) {
  if (count == nullptr) return rt::record(cudaErrorInvalidValue);
  const rt::DriverCalls* calls = nullptr;
  if (cudaError_t error = rt::driver(&calls); error != cudaSuccess) {
    *count = 0;
    return rt::record(error);
  }
  return finish(calls->device_get_count(count));
}

cudaError_t CUDARTAPI cudaSetDevice(int device) {
  CAUSEWAY_RT_DRIVER(calls);
  (void)calls;
  if (device != 0) return rt::record(cudaErrorInvalidDevice);
  t_device = device;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaGetDevice(int* device) {
  CAUSEWAY_RT_DRIVER(calls);
  (void)calls;
  if (device == nullptr) return rt::record(cudaErrorInvalidValue);
  *device = t_device;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaDriverGetVersion(int* driverVersion) {
  if (driverVersion == nullptr) return rt::record(cudaErrorInvalidValue);
  const rt::DriverCalls* calls = nullptr;
  if (rt::driver(&calls) != cudaSuccess) {
    *driverVersion = 0;  // NVIDIA's answer when no driver is installed
    return cudaSuccess;
  }
  return finish(calls->driver_get_version(driverVersion));
}

cudaError_t CUDARTAPI cudaRuntimeGetVersion(int* runtimeVersion) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  if (runtimeVersion == nullptr) return rt::record(cudaErrorInvalidValue);
  *runtimeVersion = CUDART_VERSION;
  return cudaSuccess;
}

cudaError_t CUDARTAPI cudaDeviceSynchronize(void) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->ctx_synchronize());
}

cudaError_t CUDARTAPI cudaMalloc(void** devPtr, size_t size) {
  CAUSEWAY_RT_DRIVER(calls);
  if (devPtr == nullptr) return rt::record(cudaErrorInvalidValue);
  if (size == 0) {  // CUDA: success, and a null pointer
    *devPtr = nullptr;
    return cudaSuccess;
  }
  CUdeviceptr address = 0;
  const CUresult result = calls->mem_alloc(&address, size);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return finish(result);
}

cudaError_t CUDARTAPI cudaMallocManaged(void** devPtr, size_t size, unsigned int flags) {
  CAUSEWAY_RT_DRIVER(calls);
  if (devPtr == nullptr || size == 0) return rt::record(cudaErrorInvalidValue);
  CUdeviceptr address = 0;
  const CUresult result = calls->mem_alloc_managed(&address, size, flags);
  if (result == CUDA_SUCCESS) *devPtr = reinterpret_cast<void*>(address);
  return finish(result);
}

cudaError_t CUDARTAPI cudaMallocHost(void** ptr, size_t size) {
  CAUSEWAY_RT_DRIVER(calls);
  if (ptr == nullptr) return rt::record(cudaErrorInvalidValue);
  if (size == 0) {
    *ptr = nullptr;
    return cudaSuccess;
  }
  return finish(calls->mem_alloc_host(ptr, size));
}

cudaError_t CUDARTAPI cudaHostAlloc(void** pHost, size_t size, unsigned int) {
  CAUSEWAY_RT_DRIVER(calls);
  if (pHost == nullptr) return rt::record(cudaErrorInvalidValue);
  if (size == 0) {
    *pHost = nullptr;
    return cudaSuccess;
  }
  return finish(calls->mem_alloc_host(pHost, size));
}

cudaError_t CUDARTAPI cudaFree(void* devPtr) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->mem_free(dptr(devPtr)));
}

cudaError_t CUDARTAPI cudaFreeHost(void* ptr) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->mem_free_host(ptr));
}

cudaError_t CUDARTAPI cudaMemcpyPeer(void* dst, int dstDevice, const void* src, int srcDevice,
                                     size_t count) {
  CAUSEWAY_RT_DRIVER(calls);
  if (dstDevice != 0 || srcDevice != 0) return rt::record(cudaErrorInvalidDevice);
  return finish(calls->legacy.memcpy_peer(dptr(dst), nullptr, dptr(src), nullptr, count));
}

cudaError_t CUDARTAPI cudaMemcpyPeerAsync(void* dst, int dstDevice, const void* src, int srcDevice,
                                          size_t count, cudaStream_t stream) {
  CAUSEWAY_RT_DRIVER(calls);
  if (dstDevice != 0 || srcDevice != 0) return rt::record(cudaErrorInvalidDevice);
  return finish(
      calls->legacy.memcpy_peer_async(dptr(dst), nullptr, dptr(src), nullptr, count, stream));
}

cudaError_t CUDARTAPI cudaStreamCreate(cudaStream_t* pStream) {
  CAUSEWAY_RT_DRIVER(calls);
  if (pStream == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->stream_create(pStream, 0));
}

cudaError_t CUDARTAPI cudaStreamCreateWithFlags(cudaStream_t* pStream, unsigned int flags) {
  CAUSEWAY_RT_DRIVER(calls);
  if (pStream == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->stream_create(pStream, flags));
}

cudaError_t CUDARTAPI cudaStreamDestroy(cudaStream_t stream) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->stream_destroy(stream));
}

cudaError_t CUDARTAPI cudaEventCreate(cudaEvent_t* event) {
  CAUSEWAY_RT_DRIVER(calls);
  if (event == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->event_create(event, 0));
}

cudaError_t CUDARTAPI cudaEventCreateWithFlags(cudaEvent_t* event, unsigned int flags) {
  CAUSEWAY_RT_DRIVER(calls);
  if (event == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->event_create(event, flags));
}

cudaError_t CUDARTAPI cudaEventSynchronize(cudaEvent_t event) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->event_synchronize(event));
}

cudaError_t CUDARTAPI cudaEventQuery(cudaEvent_t event) {
  CAUSEWAY_RT_DRIVER(calls);
  const cudaError_t status = rt::to_runtime(calls->event_query(event));
  return status == cudaErrorNotReady ? status : rt::record(status);
}

cudaError_t CUDARTAPI cudaEventElapsedTime(float* ms, cudaEvent_t start, cudaEvent_t end) {
  CAUSEWAY_RT_DRIVER(calls);
  if (ms == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->event_elapsed_time(ms, start, end));
}

cudaError_t CUDARTAPI cudaEventDestroy(cudaEvent_t event) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->event_destroy(event));
}

cudaError_t CUDARTAPI cudaGraphInstantiate(cudaGraphExec_t* pGraphExec, cudaGraph_t graph,
                                           unsigned long long flags) {
  CAUSEWAY_RT_DRIVER(calls);
  if (pGraphExec == nullptr) return rt::record(cudaErrorInvalidValue);
  return finish(calls->graph_instantiate(pGraphExec, graph, flags));
}

cudaError_t CUDARTAPI cudaGraphDestroy(cudaGraph_t graph) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->graph_destroy(graph));
}

cudaError_t CUDARTAPI cudaGraphExecDestroy(cudaGraphExec_t graphExec) {
  CAUSEWAY_RT_DRIVER(calls);
  return finish(calls->graph_exec_destroy(graphExec));
}

cudaError_t CUDARTAPI cudaGetLastError(void) {
  return rt::take_last_error();
}

cudaError_t CUDARTAPI cudaPeekAtLastError(void) {
  return rt::peek_last_error();
}

const char* CUDARTAPI cudaGetErrorString(cudaError_t error) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  const RuntimeErrorText* entry = find_runtime_error(error);
  return entry != nullptr ? entry->description : "unrecognized error code";
}

const char* CUDARTAPI cudaGetErrorName(cudaError_t error) {
  CAUSEWAY_SIM_ENTRY_FRAME();
  const RuntimeErrorText* entry = find_runtime_error(error);
  return entry != nullptr ? entry->name : "unrecognized error code";
}

}  // extern "C"
