// Copy, memset, launch and stream-ordered allocation logic shared by both stream flavours of the
// driver API. The cost model lives in engine.cpp; this file decides what is queued and who waits.
#include "driver_ops.h"

#include <atomic>
#include <cstdlib>
#include <cstring>

#include "engine.h"

namespace causeway::sim {

std::atomic<bool> g_initialized{false};

bool initialized() {
  return g_initialized.load(std::memory_order_acquire);
}

namespace {

bool on_device(MemoryKind kind) {
  return kind == MemoryKind::kDevice || kind == MemoryKind::kManaged;
}

// Gathers a strided region into a contiguous buffer (or scatters it back): the staging copy a
// pageable transfer costs the calling thread.
void pack_rows(unsigned char* packed, const unsigned char* src, size_t pitch, size_t width,
               size_t height) {
  for (size_t row = 0; row < height; ++row)
    std::memcpy(packed + row * width, src + row * pitch, width);
}

void unpack_rows(unsigned char* dst, size_t pitch, const unsigned char* packed, size_t width,
                 size_t height) {
  for (size_t row = 0; row < height; ++row)
    std::memcpy(dst + row * pitch, packed + row * width, width);
}

}  // namespace

CUresult copy(void* dst, size_t dst_pitch, const void* src, size_t src_pitch, size_t width,
              size_t height, CopyDirection direction, CUstream stream, bool synchronous) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (width == 0 || height == 0) return CUDA_SUCCESS;
  if (dst == nullptr || src == nullptr) return CUDA_ERROR_INVALID_VALUE;
  if (height > 1 && (dst_pitch < width || src_pitch < width)) return CUDA_ERROR_INVALID_VALUE;
  if (height == 1) dst_pitch = src_pitch = width;

  Engine& engine = Engine::get();
  bool dst_overrun = false;
  bool src_overrun = false;
  const MemoryKind dst_kind = engine.classify(dst, dst_pitch * (height - 1) + width, &dst_overrun);
  const MemoryKind src_kind = engine.classify(src, src_pitch * (height - 1) + width, &src_overrun);
  if (dst_overrun || src_overrun) return CUDA_ERROR_INVALID_VALUE;
  const bool dst_device = on_device(dst_kind);
  const bool src_device = on_device(src_kind);
  switch (direction) {
    case CopyDirection::kHostToDevice:
      if (!dst_device) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CopyDirection::kDeviceToHost:
      if (!src_device) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CopyDirection::kDeviceToDevice:
      if (!dst_device || !src_device) return CUDA_ERROR_INVALID_VALUE;
      break;
    case CopyDirection::kAny:
      break;
  }

  Op op;
  op.kind = Op::Kind::kCopy;
  op.dst = dst;
  op.src = src;
  op.width = width;
  op.height = height;
  op.dst_pitch = dst_pitch;
  op.src_pitch = src_pitch;
  op.cost_ns = engine.copy_cost_ns(static_cast<uint64_t>(width) * height);

  // A captured copy becomes a graph node that replays as a plain device transfer.
  if (engine.capturing(stream)) {
    engine.submit(stream, std::move(op));
    return CUDA_SUCCESS;
  }

  if (!dst_device && !src_device) {
    // Host to host: no device transfer; ordered after the stream's work, done by the caller.
    CUresult status = engine.synchronize_stream(stream);
    if (status != CUDA_SUCCESS) return status;
    for (size_t row = 0; row < height; ++row) {
      std::memcpy(static_cast<unsigned char*>(dst) + row * dst_pitch,
                  static_cast<const unsigned char*>(src) + row * src_pitch, width);
    }
    return CUDA_SUCCESS;
  }

  const size_t bytes = width * height;
  if (src_kind == MemoryKind::kPageable) {
    // Pageable host -> device: the calling thread first copies into a staging buffer (its CPU
    // time), then the device transfers from there. Async calls return once staged.
    auto* staging = static_cast<unsigned char*>(std::malloc(bytes));
    if (staging == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    pack_rows(staging, static_cast<const unsigned char*>(src), src_pitch, width, height);
    op.src = staging;
    op.src_pitch = width;
    op.owned_staging = staging;
    const uint64_t seq = engine.submit(stream, std::move(op));
    if (synchronous) engine.wait_for(seq);
    return CUDA_SUCCESS;
  }
  if (dst_kind == MemoryKind::kPageable) {
    // Device -> pageable host is synchronous even when called as async (as in CUDA): the
    // device transfers into staging, the caller sleeps until done, then copies out itself.
    auto* staging = static_cast<unsigned char*>(std::malloc(bytes));
    if (staging == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
    op.dst = staging;
    op.dst_pitch = width;
    engine.wait_for(engine.submit(stream, std::move(op)));
    unpack_rows(static_cast<unsigned char*>(dst), dst_pitch, staging, width, height);
    std::free(staging);
    return CUDA_SUCCESS;
  }
  const uint64_t seq = engine.submit(stream, std::move(op));
  if (synchronous) engine.wait_for(seq);
  return CUDA_SUCCESS;
}

CUresult copy_2d(const CUDA_MEMCPY2D* params, CUstream stream, bool synchronous) {
  if (params == nullptr) return CUDA_ERROR_INVALID_VALUE;
  auto address = [](CUmemorytype type, const void* host, CUdeviceptr device,
                    const unsigned char** out) {
    switch (type) {
      case CU_MEMORYTYPE_HOST:
        *out = static_cast<const unsigned char*>(host);
        return CUDA_SUCCESS;
      case CU_MEMORYTYPE_DEVICE:
      case CU_MEMORYTYPE_UNIFIED:
        *out = reinterpret_cast<const unsigned char*>(device);
        return CUDA_SUCCESS;
      default:
        return CUDA_ERROR_NOT_SUPPORTED;  // CUDA arrays are not simulated
    }
  };
  const unsigned char* src = nullptr;
  const unsigned char* dst = nullptr;
  CUresult status = address(params->srcMemoryType, params->srcHost, params->srcDevice, &src);
  if (status != CUDA_SUCCESS) return status;
  status = address(params->dstMemoryType, params->dstHost, params->dstDevice, &dst);
  if (status != CUDA_SUCCESS) return status;
  if (src == nullptr || dst == nullptr) return CUDA_ERROR_INVALID_VALUE;
  src += params->srcY * params->srcPitch + params->srcXInBytes;
  dst += params->dstY * params->dstPitch + params->dstXInBytes;
  CopyDirection direction = CopyDirection::kAny;
  if (params->srcMemoryType == CU_MEMORYTYPE_HOST &&
      params->dstMemoryType == CU_MEMORYTYPE_DEVICE) {
    direction = CopyDirection::kHostToDevice;
  } else if (params->srcMemoryType == CU_MEMORYTYPE_DEVICE &&
             params->dstMemoryType == CU_MEMORYTYPE_HOST) {
    direction = CopyDirection::kDeviceToHost;
  } else if (params->srcMemoryType == CU_MEMORYTYPE_DEVICE &&
             params->dstMemoryType == CU_MEMORYTYPE_DEVICE) {
    direction = CopyDirection::kDeviceToDevice;
  }
  return copy(const_cast<unsigned char*>(dst), params->dstPitch, src, params->srcPitch,
              params->WidthInBytes, params->Height, direction, stream, synchronous);
}

CUresult memset_d8(CUdeviceptr dst, unsigned char value, size_t bytes, CUstream stream) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (bytes == 0) return CUDA_SUCCESS;
  Engine& engine = Engine::get();
  bool overrun = false;
  void* ptr = reinterpret_cast<void*>(dst);
  if (ptr == nullptr || !on_device(engine.classify(ptr, bytes, &overrun)) || overrun) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  Op op;
  op.kind = Op::Kind::kMemset;
  op.dst = ptr;
  op.width = bytes;
  op.dst_pitch = bytes;
  op.value = value;
  op.cost_ns = engine.copy_cost_ns(bytes);
  // Like CUDA, a memset of device memory is asynchronous to the host.
  engine.submit(stream, std::move(op));
  return CUDA_SUCCESS;
}

CUresult launch(CUfunction function, unsigned int grid_x, unsigned int grid_y, unsigned int grid_z,
                unsigned int block_x, unsigned int block_y, unsigned int block_z, CUstream stream) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (function == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (grid_x == 0 || grid_y == 0 || grid_z == 0 || block_x == 0 || block_y == 0 || block_z == 0) {
    return CUDA_ERROR_INVALID_VALUE;
  }
  const uint64_t block = static_cast<uint64_t>(block_x) * block_y * block_z;
  if (block > 1024) return CUDA_ERROR_INVALID_VALUE;  // the per-block limit of every CUDA GPU
  Engine& engine = Engine::get();
  Op op;
  op.kind = Op::Kind::kKernel;
  op.function = function;
  op.threads = static_cast<uint64_t>(grid_x) * grid_y * grid_z * block;
  op.cost_ns = engine.kernel_cost_ns(op.threads);
  engine.submit(stream, std::move(op));
  return CUDA_SUCCESS;
}

CUresult alloc_async(CUdeviceptr* dptr, size_t bytes, CUstream stream) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  if (dptr == nullptr || bytes == 0) return CUDA_ERROR_INVALID_VALUE;
  Engine& engine = Engine::get();
  // Memory nodes are not simulated in graphs.
  if (engine.capturing(stream)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  // The pool hands out memory at once; ordering only matters for the free.
  void* ptr = engine.allocate(bytes, MemoryKind::kDevice);
  if (ptr == nullptr) return CUDA_ERROR_OUT_OF_MEMORY;
  *dptr = reinterpret_cast<CUdeviceptr>(ptr);
  return CUDA_SUCCESS;
}

CUresult free_async(CUdeviceptr dptr, CUstream stream) {
  if (stream == nullptr) return CUDA_ERROR_INVALID_HANDLE;
  Engine& engine = Engine::get();
  if (engine.capturing(stream)) return CUDA_ERROR_STREAM_CAPTURE_UNSUPPORTED;
  void* ptr = reinterpret_cast<void*>(dptr);
  if (ptr == nullptr || !engine.unregister(ptr, false)) return CUDA_ERROR_INVALID_VALUE;
  // Released in stream order, without synchronizing the device (unlike cuMemFree).
  Op op;
  op.kind = Op::Kind::kFree;
  op.dst = ptr;
  engine.submit(stream, std::move(op));
  return CUDA_SUCCESS;
}

}  // namespace causeway::sim
