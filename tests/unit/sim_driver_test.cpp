// The simulated driver (build/sim/libcuda.so.1) used directly, as a driver-API program would:
// NVIDIA's exported names (_v2, _ptsz), the cost model through cu* calls, and error results.
// Also: many host threads using the device at once.
#include <cuda.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <time.h>

#include <atomic>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

#include "support/test_support.h"

namespace {

using causeway::testing::build_path;

// Driver entry points by their exported names; types from cuda.h's declarations.
struct Driver {
  decltype(&::cuInit) init = nullptr;
  decltype(&::cuDeviceGetCount) device_get_count = nullptr;
  decltype(&::cuMemAlloc) mem_alloc = nullptr;           // cuMemAlloc_v2
  decltype(&::cuMemFree) mem_free = nullptr;             // cuMemFree_v2
  decltype(&::cuMemAllocHost) mem_alloc_host = nullptr;  // cuMemAllocHost_v2
  decltype(&::cuMemFreeHost) mem_free_host = nullptr;
  decltype(&::cuMemcpyHtoD) memcpy_htod = nullptr;  // cuMemcpyHtoD_v2
  decltype(&::cuMemcpyDtoH) memcpy_dtoh = nullptr;  // cuMemcpyDtoH_v2
  decltype(&::cuMemcpyHtoDAsync) memcpy_htod_async_ptsz = nullptr;
  decltype(&::cuMemsetD8) memset_d8 = nullptr;  // cuMemsetD8_v2
  decltype(&::cuLaunchKernel) launch = nullptr;
  decltype(&::cuLaunchKernel) launch_ptsz = nullptr;
  decltype(&::cuStreamCreate) stream_create = nullptr;
  decltype(&::cuStreamDestroy) stream_destroy = nullptr;  // cuStreamDestroy_v2
  decltype(&::cuStreamSynchronize) stream_synchronize = nullptr;
  decltype(&::cuStreamSynchronize) stream_synchronize_ptsz = nullptr;
  decltype(&::cuEventCreate) event_create = nullptr;
  decltype(&::cuEventRecord) event_record = nullptr;
  decltype(&::cuEventSynchronize) event_synchronize = nullptr;
  decltype(&::cuEventElapsedTime) event_elapsed = nullptr;  // cuEventElapsedTime_v2
  decltype(&::cuEventDestroy) event_destroy = nullptr;      // cuEventDestroy_v2
  decltype(&::cuCtxSynchronize) ctx_synchronize = nullptr;
  decltype(&::cuGetErrorString) get_error_string = nullptr;
  std::string error;
};

const Driver& driver() {
  static const Driver loaded = [] {
    Driver d;
    void* lib = dlopen(build_path("sim/libcuda.so.1").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      d.error = dlerror();
      return d;
    }
    auto bind = [&](auto* slot, const char* name) {
      *slot = reinterpret_cast<std::remove_reference_t<decltype(*slot)>>(dlsym(lib, name));
      if (*slot == nullptr) d.error += std::string("missing ") + name + "; ";
    };
    bind(&d.init, "cuInit");
    bind(&d.device_get_count, "cuDeviceGetCount");
    bind(&d.mem_alloc, "cuMemAlloc_v2");
    bind(&d.mem_free, "cuMemFree_v2");
    bind(&d.mem_alloc_host, "cuMemAllocHost_v2");
    bind(&d.mem_free_host, "cuMemFreeHost");
    bind(&d.memcpy_htod, "cuMemcpyHtoD_v2");
    bind(&d.memcpy_dtoh, "cuMemcpyDtoH_v2");
    bind(&d.memcpy_htod_async_ptsz, "cuMemcpyHtoDAsync_v2_ptsz");
    bind(&d.memset_d8, "cuMemsetD8_v2");
    bind(&d.launch, "cuLaunchKernel");
    bind(&d.launch_ptsz, "cuLaunchKernel_ptsz");
    bind(&d.stream_create, "cuStreamCreate");
    bind(&d.stream_destroy, "cuStreamDestroy_v2");
    bind(&d.stream_synchronize, "cuStreamSynchronize");
    bind(&d.stream_synchronize_ptsz, "cuStreamSynchronize_ptsz");
    bind(&d.event_create, "cuEventCreate");
    bind(&d.event_record, "cuEventRecord");
    bind(&d.event_synchronize, "cuEventSynchronize");
    bind(&d.event_elapsed, "cuEventElapsedTime_v2");
    bind(&d.event_destroy, "cuEventDestroy_v2");
    bind(&d.ctx_synchronize, "cuCtxSynchronize");
    bind(&d.get_error_string, "cuGetErrorString");
    return d;
  }();
  return loaded;
}

// Suite names start with "sim_" so that `ctest -R sim` selects the simulated GPU's tests.
class sim_driver : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(driver().error.empty()) << driver().error;
    d = &driver();
    ASSERT_EQ(d->init(0), CUDA_SUCCESS);
  }
  const Driver* d = nullptr;
};

int64_t now_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

void driver_kernel() {}
CUfunction kernel() {
  return reinterpret_cast<CUfunction>(reinterpret_cast<void*>(&driver_kernel));
}

TEST_F(sim_driver, DriverApiRunsTheSameDevice) {
  int count = 0;
  ASSERT_EQ(d->device_get_count(&count), CUDA_SUCCESS);
  EXPECT_EQ(count, 1);
  CUdeviceptr device = 0;
  ASSERT_EQ(d->mem_alloc(&device, 4096), CUDA_SUCCESS);
  std::vector<unsigned char> host(4096, 0x11);
  ASSERT_EQ(d->memcpy_htod(device, host.data(), host.size()), CUDA_SUCCESS);
  ASSERT_EQ(d->memset_d8(device + 100, 0x22, 10), CUDA_SUCCESS);
  std::vector<unsigned char> back(4096, 0);
  ASSERT_EQ(d->memcpy_dtoh(back.data(), device, back.size()), CUDA_SUCCESS);
  EXPECT_EQ(back[99], 0x11);
  EXPECT_EQ(back[100], 0x22);
  EXPECT_EQ(back[110], 0x11);

  CUstream stream = nullptr;
  ASSERT_EQ(d->stream_create(&stream, 0), CUDA_SUCCESS);
  CUevent start = nullptr;
  CUevent end = nullptr;
  ASSERT_EQ(d->event_create(&start, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  ASSERT_EQ(d->event_create(&end, CU_EVENT_DEFAULT), CUDA_SUCCESS);
  ASSERT_EQ(d->event_record(start, stream), CUDA_SUCCESS);
  // 20,000 blocks x 1000 threads = 20 ms at 1 ns per thread.
  ASSERT_EQ(d->launch(kernel(), 20000, 1, 1, 1000, 1, 1, 0, stream, nullptr, nullptr),
            CUDA_SUCCESS);
  ASSERT_EQ(d->event_record(end, stream), CUDA_SUCCESS);
  ASSERT_EQ(d->event_synchronize(end), CUDA_SUCCESS);
  float ms = 0;
  ASSERT_EQ(d->event_elapsed(&ms, start, end), CUDA_SUCCESS);
  EXPECT_GE(ms, 20.0f);
  EXPECT_LT(ms, 30.0f);

  EXPECT_EQ(d->event_destroy(start), CUDA_SUCCESS);
  EXPECT_EQ(d->event_destroy(end), CUDA_SUCCESS);
  EXPECT_EQ(d->stream_destroy(stream), CUDA_SUCCESS);
  EXPECT_EQ(d->mem_free(device), CUDA_SUCCESS);
}

TEST_F(sim_driver, PerThreadVariantsUseTheCallingThreadsStream) {
  CUdeviceptr device = 0;
  void* pinned = nullptr;
  ASSERT_EQ(d->mem_alloc(&device, 1 << 16), CUDA_SUCCESS);
  ASSERT_EQ(d->mem_alloc_host(&pinned, 1 << 16), CUDA_SUCCESS);
  std::memset(pinned, 5, 1 << 16);
  ASSERT_EQ(d->memcpy_htod_async_ptsz(device, pinned, 1 << 16, nullptr), CUDA_SUCCESS);
  ASSERT_EQ(d->launch_ptsz(kernel(), 1, 1, 1, 32, 1, 1, 0, nullptr, nullptr, nullptr),
            CUDA_SUCCESS);
  ASSERT_EQ(d->stream_synchronize_ptsz(nullptr), CUDA_SUCCESS);
  unsigned char first = 0;
  ASSERT_EQ(d->memcpy_dtoh(&first, device, 1), CUDA_SUCCESS);
  EXPECT_EQ(first, 5);
  EXPECT_EQ(d->mem_free_host(pinned), CUDA_SUCCESS);
  EXPECT_EQ(d->mem_free(device), CUDA_SUCCESS);
}

TEST_F(sim_driver, BadInputGetsDriverErrors) {
  EXPECT_EQ(d->init(1), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d->mem_alloc(nullptr, 16), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d->mem_free(12345), CUDA_ERROR_INVALID_VALUE);
  EXPECT_EQ(d->stream_synchronize(reinterpret_cast<CUstream>(0x4242)), CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d->launch(nullptr, 1, 1, 1, 1, 1, 1, 0, nullptr, nullptr, nullptr),
            CUDA_ERROR_INVALID_HANDLE);
  EXPECT_EQ(d->launch(kernel(), 1, 1, 1, 0, 1, 1, 0, nullptr, nullptr, nullptr),
            CUDA_ERROR_INVALID_VALUE);
  const char* text = nullptr;
  ASSERT_EQ(d->get_error_string(CUDA_ERROR_INVALID_HANDLE, &text), CUDA_SUCCESS);
  EXPECT_STREQ(text, "invalid resource handle");
  EXPECT_EQ(d->get_error_string(static_cast<CUresult>(77777), &text), CUDA_ERROR_INVALID_VALUE);
}

TEST_F(sim_driver, ManyHostThreadsShareTheDevice) {
  // Eight threads, each with its own stream, launching and synchronizing concurrently: every
  // synchronize returns, and the device time adds up (one device runs one op at a time).
  constexpr int kThreads = 8;
  constexpr int kLaunches = 50;
  std::atomic<int> failures{0};
  const int64_t start = now_ns();
  std::vector<std::thread> threads;
  for (int t = 0; t < kThreads; ++t) {
    threads.emplace_back([&] {
      CUstream stream = nullptr;
      if (d->stream_create(&stream, CU_STREAM_NON_BLOCKING) != CUDA_SUCCESS) ++failures;
      for (int i = 0; i < kLaunches; ++i) {
        // 100 us each: 8 x 50 x 100 us = 40 ms of device time in total.
        if (d->launch(kernel(), 100, 1, 1, 1000, 1, 1, 0, stream, nullptr, nullptr) !=
            CUDA_SUCCESS) {
          ++failures;
        }
        if (i % 10 == 9 && d->stream_synchronize(stream) != CUDA_SUCCESS) ++failures;
      }
      if (d->stream_destroy(stream) != CUDA_SUCCESS) ++failures;
    });
  }
  for (std::thread& thread : threads) thread.join();
  ASSERT_EQ(d->ctx_synchronize(), CUDA_SUCCESS);
  const double total_ms = static_cast<double>(now_ns() - start) / 1e6;
  EXPECT_EQ(failures.load(), 0);
  EXPECT_GE(total_ms, 40.0);
  EXPECT_LT(total_ms, 40.0 + 100.0);
}

}  // namespace
