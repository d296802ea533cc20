// How the simulated runtime reaches the simulated driver: like NVIDIA's libcudart, it
// dlopen()s "libcuda.so.1" on first use and calls it through dlsym'd pointers, so both layers
// show up as separate libraries in /proc/PID/maps and can be probed separately.
//
// Thread-safety: the tables are filled once (std::call_once) and read-only afterwards.
#pragma once

#include <cuda.h>
#include <cuda_runtime_api.h>

#include <cstddef>

// Forces a frame (push %rbp; mov %rsp,%rbp) in an entry point GCC would otherwise compile as a
// frameless leaf: uprobes must find `push %rbp` first (see sim/CMakeLists.txt).
#define CAUSEWAY_SIM_ENTRY_FRAME() __asm__ volatile("" ::"r"(__builtin_frame_address(0)))

namespace causeway::sim::rt {

// Driver entry points that exist in a legacy-stream and a per-thread-stream (_ptsz/_ptds)
// flavour. Types are spelled out rather than taken with decltype, because in the _ptsz
// translation unit cuda.h renames the plain names.
struct StreamCalls {
  CUresult (*memcpy)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*memcpy_htod)(CUdeviceptr, const void*, size_t);
  CUresult (*memcpy_dtoh)(void*, CUdeviceptr, size_t);
  CUresult (*memcpy_dtod)(CUdeviceptr, CUdeviceptr, size_t);
  CUresult (*memcpy_peer)(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t);
  CUresult (*memcpy_2d)(const CUDA_MEMCPY2D*);
  CUresult (*memcpy_async)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*memcpy_htod_async)(CUdeviceptr, const void*, size_t, CUstream);
  CUresult (*memcpy_dtoh_async)(void*, CUdeviceptr, size_t, CUstream);
  CUresult (*memcpy_dtod_async)(CUdeviceptr, CUdeviceptr, size_t, CUstream);
  CUresult (*memcpy_peer_async)(CUdeviceptr, CUcontext, CUdeviceptr, CUcontext, size_t, CUstream);
  CUresult (*memcpy_2d_async)(const CUDA_MEMCPY2D*, CUstream);
  CUresult (*memset_d8)(CUdeviceptr, unsigned char, size_t);
  CUresult (*memset_d8_async)(CUdeviceptr, unsigned char, size_t, CUstream);
  CUresult (*launch_kernel)(CUfunction, unsigned int, unsigned int, unsigned int, unsigned int,
                            unsigned int, unsigned int, unsigned int, CUstream, void**, void**);
  CUresult (*launch_kernel_ex)(const CUlaunchConfig*, CUfunction, void**, void**);
  CUresult (*stream_synchronize)(CUstream);
  CUresult (*stream_query)(CUstream);
  CUresult (*stream_wait_event)(CUstream, CUevent, unsigned int);
  CUresult (*event_record)(CUevent, CUstream);
  CUresult (*stream_begin_capture)(CUstream, CUstreamCaptureMode);
  CUresult (*stream_end_capture)(CUstream, CUgraph*);
  CUresult (*stream_is_capturing)(CUstream, CUstreamCaptureStatus*);
  CUresult (*graph_launch)(CUgraphExec, CUstream);
  CUresult (*mem_alloc_async)(CUdeviceptr*, size_t, CUstream);
  CUresult (*mem_free_async)(CUdeviceptr, CUstream);
};

// Driver entry points without a stream flavour.
struct DriverCalls {
  CUresult (*init)(unsigned int);
  CUresult (*driver_get_version)(int*);
  CUresult (*device_get_count)(int*);
  CUresult (*device_primary_ctx_retain)(CUcontext*, CUdevice);
  CUresult (*ctx_set_current)(CUcontext);
  CUresult (*ctx_synchronize)();
  CUresult (*mem_alloc)(CUdeviceptr*, size_t);
  CUresult (*mem_alloc_managed)(CUdeviceptr*, size_t, unsigned int);
  CUresult (*mem_alloc_host)(void**, size_t);
  CUresult (*mem_free)(CUdeviceptr);
  CUresult (*mem_free_host)(void*);
  CUresult (*stream_create)(CUstream*, unsigned int);
  CUresult (*stream_destroy)(CUstream);
  CUresult (*event_create)(CUevent*, unsigned int);
  CUresult (*event_destroy)(CUevent);
  CUresult (*event_synchronize)(CUevent);
  CUresult (*event_query)(CUevent);
  CUresult (*event_elapsed_time)(float*, CUevent, CUevent);
  CUresult (*graph_instantiate)(CUgraphExec*, CUgraph, unsigned long long);
  CUresult (*graph_destroy)(CUgraph);
  CUresult (*graph_exec_destroy)(CUgraphExec);
  StreamCalls legacy;      // stream 0 = legacy default stream
  StreamCalls per_thread;  // stream 0 = the calling thread's default stream
};

// The driver, loaded and initialized (cuInit, primary context current on this thread) on first
// use. Returns cudaErrorInsufficientDriver when libcuda.so.1 cannot be loaded or lacks a symbol,
// as NVIDIA's runtime does on a machine without a driver.
cudaError_t driver(const DriverCalls** calls);

// Maps a driver result to the runtime error NVIDIA's runtime reports for it.
cudaError_t to_runtime(CUresult result);

// Remembers a failure as the calling thread's last error (cudaGetLastError) and returns it.
cudaError_t record(cudaError_t error);
cudaError_t take_last_error();
cudaError_t peek_last_error();

}  // namespace causeway::sim::rt
