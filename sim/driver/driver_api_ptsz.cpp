// The per-thread-default-stream driver symbols (cuMemcpyAsync_ptsz, cuMemcpyHtoD_v2_ptds, ...):
// cuda.h renames the definitions in driver_stream_api.inc when this macro is set, so each one
// is checked against NVIDIA's declaration of that exact symbol.
#define CUDA_API_PER_THREAD_DEFAULT_STREAM 1
#include <cuda.h>

#include "driver_ops.h"
#include "engine.h"

namespace {
constexpr bool kPerThreadDefault = true;
}  // namespace

#include "driver_stream_api.inc"
