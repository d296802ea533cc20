// The per-thread-default-stream runtime symbols (cudaMemcpyAsync_ptsz, cudaMemcpy_ptds, ...):
// with this macro set, cuda_runtime_api.h renames the definitions in runtime_stream_api.inc,
// so each is checked against NVIDIA's declaration of that exact symbol.
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include <cuda_runtime_api.h>

#include "driver_link.h"

namespace {
constexpr bool kPerThreadDefault = true;
}  // namespace

#include "runtime_stream_api.inc"
