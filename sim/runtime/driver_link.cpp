// Loading libcuda.so.1 and per-thread runtime state. See driver_link.h.
#include "driver_link.h"

#include <dlfcn.h>

#include <mutex>

namespace causeway::sim::rt {

namespace {

DriverCalls g_calls;
cudaError_t g_load_status = cudaErrorInsufficientDriver;
CUcontext g_primary = nullptr;
thread_local bool t_context_current = false;
thread_local cudaError_t t_last_error = cudaSuccess;

template <typename Fn>
bool bind(void* library, const char* name, Fn* slot) {
  void* symbol = dlsym(library, name);
  *slot = reinterpret_cast<Fn>(symbol);
  return symbol != nullptr;
}

bool bind_stream_calls(void* lib, StreamCalls* calls, bool per_thread) {
  // NVIDIA's names: synchronous copies get _ptds, stream-taking calls _ptsz.
  auto ds = [per_thread](const char* legacy, const char* ptds) {
    return per_thread ? ptds : legacy;
  };
  bool ok = true;
  ok &= bind(lib, ds("cuMemcpy", "cuMemcpy_ptds"), &calls->memcpy);
  ok &= bind(lib, ds("cuMemcpyHtoD_v2", "cuMemcpyHtoD_v2_ptds"), &calls->memcpy_htod);
  ok &= bind(lib, ds("cuMemcpyDtoH_v2", "cuMemcpyDtoH_v2_ptds"), &calls->memcpy_dtoh);
  ok &= bind(lib, ds("cuMemcpyDtoD_v2", "cuMemcpyDtoD_v2_ptds"), &calls->memcpy_dtod);
  ok &= bind(lib, ds("cuMemcpyPeer", "cuMemcpyPeer_ptds"), &calls->memcpy_peer);
  ok &= bind(lib, ds("cuMemcpy2D_v2", "cuMemcpy2D_v2_ptds"), &calls->memcpy_2d);
  ok &= bind(lib, ds("cuMemcpyAsync", "cuMemcpyAsync_ptsz"), &calls->memcpy_async);
  ok &=
      bind(lib, ds("cuMemcpyHtoDAsync_v2", "cuMemcpyHtoDAsync_v2_ptsz"), &calls->memcpy_htod_async);
  ok &=
      bind(lib, ds("cuMemcpyDtoHAsync_v2", "cuMemcpyDtoHAsync_v2_ptsz"), &calls->memcpy_dtoh_async);
  ok &=
      bind(lib, ds("cuMemcpyDtoDAsync_v2", "cuMemcpyDtoDAsync_v2_ptsz"), &calls->memcpy_dtod_async);
  ok &= bind(lib, ds("cuMemcpyPeerAsync", "cuMemcpyPeerAsync_ptsz"), &calls->memcpy_peer_async);
  ok &= bind(lib, ds("cuMemcpy2DAsync_v2", "cuMemcpy2DAsync_v2_ptsz"), &calls->memcpy_2d_async);
  ok &= bind(lib, ds("cuMemsetD8_v2", "cuMemsetD8_v2_ptds"), &calls->memset_d8);
  ok &= bind(lib, ds("cuMemsetD8Async", "cuMemsetD8Async_ptsz"), &calls->memset_d8_async);
  ok &= bind(lib, ds("cuLaunchKernel", "cuLaunchKernel_ptsz"), &calls->launch_kernel);
  ok &= bind(lib, ds("cuLaunchKernelEx", "cuLaunchKernelEx_ptsz"), &calls->launch_kernel_ex);
  ok &=
      bind(lib, ds("cuStreamSynchronize", "cuStreamSynchronize_ptsz"), &calls->stream_synchronize);
  ok &= bind(lib, ds("cuStreamQuery", "cuStreamQuery_ptsz"), &calls->stream_query);
  ok &= bind(lib, ds("cuStreamWaitEvent", "cuStreamWaitEvent_ptsz"), &calls->stream_wait_event);
  ok &= bind(lib, ds("cuEventRecord", "cuEventRecord_ptsz"), &calls->event_record);
  ok &= bind(lib, ds("cuStreamBeginCapture_v2", "cuStreamBeginCapture_v2_ptsz"),
             &calls->stream_begin_capture);
  ok &= bind(lib, ds("cuStreamEndCapture", "cuStreamEndCapture_ptsz"), &calls->stream_end_capture);
  ok &=
      bind(lib, ds("cuStreamIsCapturing", "cuStreamIsCapturing_ptsz"), &calls->stream_is_capturing);
  ok &= bind(lib, ds("cuGraphLaunch", "cuGraphLaunch_ptsz"), &calls->graph_launch);
  ok &= bind(lib, ds("cuMemAllocAsync", "cuMemAllocAsync_ptsz"), &calls->mem_alloc_async);
  ok &= bind(lib, ds("cuMemFreeAsync", "cuMemFreeAsync_ptsz"), &calls->mem_free_async);
  return ok;
}

void load() {
  // Resolved through this library's RUNPATH ($ORIGIN), then the usual search path.
  void* lib = dlopen("libcuda.so.1", RTLD_NOW | RTLD_LOCAL);
  if (lib == nullptr) return;
  bool ok = true;
  ok &= bind(lib, "cuInit", &g_calls.init);
  ok &= bind(lib, "cuDriverGetVersion", &g_calls.driver_get_version);
  ok &= bind(lib, "cuDeviceGetCount", &g_calls.device_get_count);
  ok &= bind(lib, "cuDevicePrimaryCtxRetain", &g_calls.device_primary_ctx_retain);
  ok &= bind(lib, "cuCtxSetCurrent", &g_calls.ctx_set_current);
  ok &= bind(lib, "cuCtxSynchronize", &g_calls.ctx_synchronize);
  ok &= bind(lib, "cuMemAlloc_v2", &g_calls.mem_alloc);
  ok &= bind(lib, "cuMemAllocManaged", &g_calls.mem_alloc_managed);
  ok &= bind(lib, "cuMemAllocHost_v2", &g_calls.mem_alloc_host);
  ok &= bind(lib, "cuMemFree_v2", &g_calls.mem_free);
  ok &= bind(lib, "cuMemFreeHost", &g_calls.mem_free_host);
  ok &= bind(lib, "cuStreamCreate", &g_calls.stream_create);
  ok &= bind(lib, "cuStreamDestroy_v2", &g_calls.stream_destroy);
  ok &= bind(lib, "cuEventCreate", &g_calls.event_create);
  ok &= bind(lib, "cuEventDestroy_v2", &g_calls.event_destroy);
  ok &= bind(lib, "cuEventSynchronize", &g_calls.event_synchronize);
  ok &= bind(lib, "cuEventQuery", &g_calls.event_query);
  ok &= bind(lib, "cuEventElapsedTime_v2", &g_calls.event_elapsed_time);
  ok &= bind(lib, "cuGraphInstantiateWithFlags", &g_calls.graph_instantiate);
  ok &= bind(lib, "cuGraphDestroy", &g_calls.graph_destroy);
  ok &= bind(lib, "cuGraphExecDestroy", &g_calls.graph_exec_destroy);
  ok &= bind_stream_calls(lib, &g_calls.legacy, false);
  ok &= bind_stream_calls(lib, &g_calls.per_thread, true);
  if (!ok) return;
  if (g_calls.init(0) != CUDA_SUCCESS) return;
  if (g_calls.device_primary_ctx_retain(&g_primary, 0) != CUDA_SUCCESS) {
    g_load_status = cudaErrorNoDevice;
    return;
  }
  g_load_status = cudaSuccess;
}

}  // namespace

cudaError_t driver(const DriverCalls** calls) {
  static std::once_flag once;
  std::call_once(once, load);
  if (g_load_status != cudaSuccess) return g_load_status;
  if (!t_context_current) {
    // Like NVIDIA's runtime: each thread's first call makes the primary context current.
    g_calls.ctx_set_current(g_primary);
    t_context_current = true;
  }
  *calls = &g_calls;
  return cudaSuccess;
}

cudaError_t to_runtime(CUresult result) {
  switch (result) {
    case CUDA_SUCCESS:
      return cudaSuccess;
    case CUDA_ERROR_INVALID_VALUE:
      return cudaErrorInvalidValue;
    case CUDA_ERROR_OUT_OF_MEMORY:
      return cudaErrorMemoryAllocation;
    case CUDA_ERROR_NOT_INITIALIZED:
      return cudaErrorInitializationError;
    case CUDA_ERROR_NO_DEVICE:
      return cudaErrorNoDevice;
    case CUDA_ERROR_INVALID_DEVICE:
      return cudaErrorInvalidDevice;
    case CUDA_ERROR_INVALID_CONTEXT:
      return cudaErrorDeviceUninitialized;
    case CUDA_ERROR_INVALID_HANDLE:
      return cudaErrorInvalidResourceHandle;
    case CUDA_ERROR_ILLEGAL_STATE:
      return cudaErrorIllegalState;
    case CUDA_ERROR_NOT_READY:
      return cudaErrorNotReady;
    case CUDA_ERROR_NOT_SUPPORTED:
      return cudaErrorNotSupported;
    case CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED:
      return cudaErrorStreamCaptureUnsupported;
    case CUDA_ERROR_STREAM_CAPTURE_INVALIDATED:
      return cudaErrorStreamCaptureInvalidated;
    default:
      return cudaErrorUnknown;
  }
}

cudaError_t record(cudaError_t error) {
  if (error != cudaSuccess) t_last_error = error;
  return error;
}

cudaError_t take_last_error() {
  cudaError_t error = t_last_error;
  t_last_error = cudaSuccess;
  return error;
}

cudaError_t peek_last_error() {
  return t_last_error;
}

}  // namespace causeway::sim::rt
