// The simulated GPU's runtime (sim/runtime) over its driver (sim/driver): the cost model of
// docs/simulated-gpu.md measured with generous bounds, stream/event/graph semantics, and error
// codes. The library is dlopen()ed from the build tree (nothing else in this process links a
// CUDA runtime), with the default cost parameters.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <gtest/gtest.h>
#include <time.h>

#include <algorithm>
#include <cstdint>
#include <cstdlib>
#include <cstring>
#include <fstream>
#include <string>
#include <type_traits>
#include <vector>

#include "support/test_support.h"

namespace {

using causeway::testing::build_path;

// The runtime functions under test, resolved by name from the simulated libcudart.so.13.
struct Cudart {
#define SIM_FN(name) decltype(&::name) name = nullptr;
  SIM_FN(cudaMalloc)
  SIM_FN(cudaMallocHost)
  SIM_FN(cudaMallocManaged)
  SIM_FN(cudaMallocAsync)
  SIM_FN(cudaFree)
  SIM_FN(cudaFreeHost)
  SIM_FN(cudaFreeAsync)
  SIM_FN(cudaMemcpy)
  SIM_FN(cudaMemcpyAsync)
  SIM_FN(cudaMemcpy2D)
  SIM_FN(cudaMemcpyPeer)
  SIM_FN(cudaMemset)
  SIM_FN(cudaMemsetAsync)
  SIM_FN(cudaLaunchKernel)
  SIM_FN(cudaLaunchKernelExC)
  SIM_FN(cudaStreamCreate)
  SIM_FN(cudaStreamCreateWithFlags)
  SIM_FN(cudaStreamDestroy)
  SIM_FN(cudaStreamSynchronize)
  SIM_FN(cudaStreamQuery)
  SIM_FN(cudaStreamWaitEvent)
  SIM_FN(cudaDeviceSynchronize)
  SIM_FN(cudaEventCreate)
  SIM_FN(cudaEventRecord)
  SIM_FN(cudaEventSynchronize)
  SIM_FN(cudaEventQuery)
  SIM_FN(cudaEventElapsedTime)
  SIM_FN(cudaEventDestroy)
  SIM_FN(cudaGetLastError)
  SIM_FN(cudaPeekAtLastError)
  SIM_FN(cudaGetErrorString)
  SIM_FN(cudaGetDeviceCount)
  SIM_FN(cudaSetDevice)
  SIM_FN(cudaGetDevice)
  SIM_FN(cudaStreamBeginCapture)
  SIM_FN(cudaStreamEndCapture)
  SIM_FN(cudaGraphInstantiate)
  SIM_FN(cudaGraphLaunch)
  SIM_FN(cudaGraphDestroy)
  SIM_FN(cudaGraphExecDestroy)
#undef SIM_FN
  // Per-thread default stream flavours (same signatures, NVIDIA's _ptsz names).
  decltype(&::cudaLaunchKernel) cudaLaunchKernel_ptsz = nullptr;
  decltype(&::cudaStreamSynchronize) cudaStreamSynchronize_ptsz = nullptr;
  std::string error;
};

const Cudart& cudart() {
  static const Cudart loaded = [] {
    Cudart c;
    // The defaults of the cost model, whatever the environment of the test run.
    unsetenv("CAUSEWAY_SIM_NS_PER_THREAD");
    unsetenv("CAUSEWAY_SIM_COPY_GBPS");
    void* lib = dlopen(build_path("sim/libcudart.so.13").c_str(), RTLD_NOW | RTLD_LOCAL);
    if (lib == nullptr) {
      c.error = dlerror();
      return c;
    }
    auto bind = [&](auto* slot, const char* name) {
      *slot = reinterpret_cast<std::remove_reference_t<decltype(*slot)>>(dlsym(lib, name));
      if (*slot == nullptr) c.error += std::string("missing ") + name + "; ";
    };
#define SIM_BIND(name) bind(&c.name, #name);
    SIM_BIND(cudaMalloc)
    SIM_BIND(cudaMallocHost)
    SIM_BIND(cudaMallocManaged)
    SIM_BIND(cudaMallocAsync)
    SIM_BIND(cudaFree)
    SIM_BIND(cudaFreeHost)
    SIM_BIND(cudaFreeAsync)
    SIM_BIND(cudaMemcpy)
    SIM_BIND(cudaMemcpyAsync)
    SIM_BIND(cudaMemcpy2D)
    SIM_BIND(cudaMemcpyPeer)
    SIM_BIND(cudaMemset)
    SIM_BIND(cudaMemsetAsync)
    SIM_BIND(cudaLaunchKernel)
    SIM_BIND(cudaLaunchKernelExC)
    SIM_BIND(cudaStreamCreate)
    SIM_BIND(cudaStreamCreateWithFlags)
    SIM_BIND(cudaStreamDestroy)
    SIM_BIND(cudaStreamSynchronize)
    SIM_BIND(cudaStreamQuery)
    SIM_BIND(cudaStreamWaitEvent)
    SIM_BIND(cudaDeviceSynchronize)
    SIM_BIND(cudaEventCreate)
    SIM_BIND(cudaEventRecord)
    SIM_BIND(cudaEventSynchronize)
    SIM_BIND(cudaEventQuery)
    SIM_BIND(cudaEventElapsedTime)
    SIM_BIND(cudaEventDestroy)
    SIM_BIND(cudaGetLastError)
    SIM_BIND(cudaPeekAtLastError)
    SIM_BIND(cudaGetErrorString)
    SIM_BIND(cudaGetDeviceCount)
    SIM_BIND(cudaSetDevice)
    SIM_BIND(cudaGetDevice)
    SIM_BIND(cudaStreamBeginCapture)
    SIM_BIND(cudaStreamEndCapture)
    SIM_BIND(cudaGraphInstantiate)
    SIM_BIND(cudaGraphLaunch)
    SIM_BIND(cudaGraphDestroy)
    SIM_BIND(cudaGraphExecDestroy)
    SIM_BIND(cudaLaunchKernel_ptsz)
    SIM_BIND(cudaStreamSynchronize_ptsz)
#undef SIM_BIND
    return c;
  }();
  return loaded;
}

// Suite names start with "sim_" so that `ctest -R sim` selects the simulated GPU's tests.
class sim_runtime : public ::testing::Test {
 protected:
  void SetUp() override {
    ASSERT_TRUE(cudart().error.empty()) << cudart().error;
    rt = &cudart();
    rt->cudaGetLastError();  // each test starts without a pending error
  }
  const Cudart* rt = nullptr;
};

int64_t now_ns(clockid_t clock = CLOCK_MONOTONIC) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1000000000 + ts.tv_nsec;
}

double ms_since(int64_t start_ns) {
  return static_cast<double>(now_ns() - start_ns) / 1e6;
}

// Stand-in kernels: the runtime only uses their addresses.
void kernel_a() {}
void kernel_b() {}
const void* const kKernelA = reinterpret_cast<const void*>(&kernel_a);
const void* const kKernelB = reinterpret_cast<const void*>(&kernel_b);

// A launch of exactly `threads` threads (threads must be a multiple of 1000).
cudaError_t launch(const Cudart* rt, uint64_t threads, cudaStream_t stream,
                   const void* kernel = kKernelA) {
  return rt->cudaLaunchKernel(kernel, dim3(static_cast<unsigned>(threads / 1000)), dim3(1000),
                              nullptr, 0, stream);
}

TEST_F(sim_runtime, OneDeviceAndTheDriverLayerIsLoadedUnderneath) {
  int count = 0;
  ASSERT_EQ(rt->cudaGetDeviceCount(&count), cudaSuccess);
  EXPECT_EQ(count, 1);
  int device = -1;
  ASSERT_EQ(rt->cudaGetDevice(&device), cudaSuccess);
  EXPECT_EQ(device, 0);
  // The runtime reached the driver through dlopen("libcuda.so.1"), found next to it.
  std::ifstream maps("/proc/self/maps");
  std::string line;
  bool driver = false;
  while (std::getline(maps, line)) {
    if (line.find(build_path("sim/libcuda.so.1")) != std::string::npos) driver = true;
  }
  EXPECT_TRUE(driver) << "sim/libcuda.so.1 is not mapped";
}

TEST_F(sim_runtime, KernelOccupiesDeviceForThreadsTimesNsPerThread) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  const uint64_t threads = 40'000'000;  // 40 ms at the default 1 ns per thread
  const int64_t start = now_ns();
  ASSERT_EQ(launch(rt, threads, stream), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamQuery(stream), cudaErrorNotReady) << "launches are asynchronous";
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  const double total_ms = ms_since(start);
  // Lower bounds are the model's promise; upper bounds only allow for a loaded 2-core machine.
  EXPECT_GE(total_ms, 40.0);
  EXPECT_LT(total_ms, 40.0 + 60.0);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, BackToBackKernelsRunOnTheVirtualClockWithoutPerLaunchLatency) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  // A 40 ms kernel, then 5000 kernels of 4 us queued behind it: 60 ms of device time. The
  // backlog runs on the virtual clock; a wake-up latency per kernel (tens of us) would add
  // 100 ms or more.
  const int64_t start = now_ns();
  ASSERT_EQ(launch(rt, 40'000'000, stream), cudaSuccess);
  for (int i = 0; i < 5000; ++i) ASSERT_EQ(launch(rt, 4'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  const double total_ms = ms_since(start);
  EXPECT_GE(total_ms, 60.0);
  EXPECT_LT(total_ms, 60.0 + 60.0);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, SynchronizeSleepsInsteadOfSpinning) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  ASSERT_EQ(launch(rt, 60'000'000, stream), cudaSuccess);
  const int64_t cpu_before = now_ns(CLOCK_THREAD_CPUTIME_ID);
  const int64_t wall_before = now_ns();
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  const double wall_ms = ms_since(wall_before);
  const double cpu_ms = static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_before) / 1e6;
  EXPECT_GE(wall_ms, 50.0);
  EXPECT_LT(cpu_ms, 3.0) << "the caller burned CPU while waiting " << wall_ms << " ms";

  // The same for device and event synchronization.
  cudaEvent_t event = nullptr;
  ASSERT_EQ(rt->cudaEventCreate(&event), cudaSuccess);
  ASSERT_EQ(launch(rt, 30'000'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaEventRecord(event, stream), cudaSuccess);
  const int64_t cpu_event = now_ns(CLOCK_THREAD_CPUTIME_ID);
  ASSERT_EQ(rt->cudaEventSynchronize(event), cudaSuccess);
  ASSERT_EQ(launch(rt, 30'000'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaDeviceSynchronize(), cudaSuccess);
  EXPECT_LT(static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_event) / 1e6, 3.0);
  EXPECT_EQ(rt->cudaEventDestroy(event), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, PinnedCopyTakesBytesOver20GBpsAndMovesTheBytes) {
  const size_t bytes = 32u << 20;  // 1.68 ms at 20 GB/s
  void* host = nullptr;
  void* device = nullptr;
  void* back = nullptr;
  ASSERT_EQ(rt->cudaMallocHost(&host, bytes), cudaSuccess);
  ASSERT_EQ(rt->cudaMallocHost(&back, bytes), cudaSuccess);
  ASSERT_EQ(rt->cudaMalloc(&device, bytes), cudaSuccess);
  std::memset(host, 0x5a, bytes);
  std::memset(back, 0, bytes);
  // Warm the device pages so first-touch faults do not count against the copy.
  ASSERT_EQ(rt->cudaMemcpy(device, host, bytes, cudaMemcpyHostToDevice), cudaSuccess);

  // The model is a floor: a copy never finishes faster than 20 GB/s, and lasts as long as the
  // host's own memcpy of the bytes when that is slower (docs/simulated-gpu.md). Measure that.
  const int64_t memcpy_start = now_ns();
  std::memcpy(back, host, bytes);
  const double host_memcpy_ms = ms_since(memcpy_start);
  std::memset(back, 0, bytes);

  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  const double model_ms = static_cast<double>(bytes) / 20e9 * 1e3;
  const int64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaMemcpyAsync(device, host, bytes, cudaMemcpyHostToDevice, stream), cudaSuccess);
  const double enqueue_cpu_ms =
      static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) / 1e6;
  const bool still_running = rt->cudaStreamQuery(stream) == cudaErrorNotReady;
  // Only a query made before the model's duration elapsed must see the copy running: on a
  // loaded machine this thread can be descheduled for longer than the copy takes.
  const bool queried_early = ms_since(start) < model_ms;
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  const double copy_ms = ms_since(start);
  const double cpu_ms = static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) / 1e6;
  EXPECT_LT(enqueue_cpu_ms, 1.0) << "a pinned async copy only queues work";
  if (queried_early) {
    EXPECT_TRUE(still_running) << "a pinned async copy returns before the copy is done";
  }
  EXPECT_LT(cpu_ms, 2.0) << "a pinned copy costs the caller no CPU";
  EXPECT_GE(copy_ms, model_ms);
  EXPECT_LT(copy_ms, std::max(model_ms, host_memcpy_ms) * 3 + 30.0)
      << "model " << model_ms << " ms, host memcpy " << host_memcpy_ms << " ms";

  ASSERT_EQ(rt->cudaMemcpy(back, device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(std::memcmp(back, host, bytes), 0);
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(host), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(back), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, PageableCopiesCostTheCallerCpuAndDeviceToPageableIsSynchronous) {
  const size_t bytes = 32u << 20;
  std::vector<unsigned char> pageable(bytes, 0x33);
  std::vector<unsigned char> out(bytes, 0);
  void* device = nullptr;
  ASSERT_EQ(rt->cudaMalloc(&device, bytes), cudaSuccess);
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);

  // Host to device from pageable memory: staged by the caller (its CPU time).
  const int64_t cpu_start = now_ns(CLOCK_THREAD_CPUTIME_ID);
  ASSERT_EQ(rt->cudaMemcpyAsync(device, pageable.data(), bytes, cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  const double staging_cpu_ms =
      static_cast<double>(now_ns(CLOCK_THREAD_CPUTIME_ID) - cpu_start) / 1e6;
  EXPECT_GT(staging_cpu_ms, 0.5) << "staging 32 MiB should take measurable CPU time";

  // Device to pageable memory: the "async" call waits for the device (behind a 30 ms kernel)
  // and then copies out on the caller.
  ASSERT_EQ(launch(rt, 30'000'000, stream), cudaSuccess);
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaMemcpyAsync(out.data(), device, bytes, cudaMemcpyDeviceToHost, stream),
            cudaSuccess);
  EXPECT_GE(ms_since(start), 25.0) << "D2H into pageable memory returns only when done";
  EXPECT_EQ(cudaSuccess, rt->cudaStreamQuery(stream));
  EXPECT_EQ(std::memcmp(out.data(), pageable.data(), bytes), 0);
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, StreamsRunInOrderAndSynchronizeWaitsOnlyForItsOwnWork) {
  cudaStream_t a = nullptr;
  cudaStream_t b = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&a), cudaSuccess);
  ASSERT_EQ(rt->cudaStreamCreateWithFlags(&b, cudaStreamNonBlocking), cudaSuccess);
  const size_t bytes = 4096;
  void* device = nullptr;
  void* pinned = nullptr;
  ASSERT_EQ(rt->cudaMalloc(&device, bytes), cudaSuccess);
  ASSERT_EQ(rt->cudaMallocHost(&pinned, bytes), cudaSuccess);

  // FIFO within a stream: memset, then copy in, then copy out sees the copied bytes.
  std::memset(pinned, 9, bytes);
  ASSERT_EQ(rt->cudaMemsetAsync(device, 7, bytes, a), cudaSuccess);
  ASSERT_EQ(rt->cudaMemcpyAsync(device, pinned, bytes, cudaMemcpyHostToDevice, a), cudaSuccess);
  unsigned char out[4096];
  ASSERT_EQ(rt->cudaMemcpy(out, device, bytes, cudaMemcpyDeviceToHost), cudaSuccess);
  EXPECT_EQ(out[0], 9);
  EXPECT_EQ(out[bytes - 1], 9);

  // Work queued on b before a's long kernel is done when b is synchronized, long before a is.
  ASSERT_EQ(launch(rt, 1000, b), cudaSuccess);
  ASSERT_EQ(launch(rt, 50'000'000, a), cudaSuccess);
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaStreamSynchronize(b), cudaSuccess);
  EXPECT_LT(ms_since(start), 30.0);
  EXPECT_EQ(rt->cudaStreamQuery(a), cudaErrorNotReady);
  EXPECT_EQ(rt->cudaGetLastError(), cudaSuccess) << "not-ready is a status, not an error";
  ASSERT_EQ(rt->cudaStreamSynchronize(a), cudaSuccess);
  EXPECT_GE(ms_since(start), 45.0);
  EXPECT_EQ(rt->cudaStreamQuery(a), cudaSuccess);

  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(a), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(b), cudaSuccess);
}

TEST_F(sim_runtime, PerThreadDefaultStreamIsSeparateFromTheLegacyStream) {
  // _ptsz entry points treat stream 0 as this thread's own stream.
  ASSERT_EQ(rt->cudaLaunchKernel_ptsz(kKernelA, dim3(1), dim3(1000), nullptr, 0, nullptr),
            cudaSuccess);
  ASSERT_EQ(launch(rt, 60'000'000, nullptr), cudaSuccess);  // legacy default stream
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaStreamSynchronize_ptsz(nullptr), cudaSuccess);
  EXPECT_LT(ms_since(start), 30.0);
  ASSERT_EQ(rt->cudaStreamSynchronize(nullptr), cudaSuccess);
  EXPECT_GE(ms_since(start), 55.0);
}

TEST_F(sim_runtime, EventsTimeTheDeviceWork) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  cudaEvent_t start = nullptr;
  cudaEvent_t end = nullptr;
  ASSERT_EQ(rt->cudaEventCreate(&start), cudaSuccess);
  ASSERT_EQ(rt->cudaEventCreate(&end), cudaSuccess);
  float ms = -1;
  EXPECT_EQ(rt->cudaEventElapsedTime(&ms, start, end), cudaErrorInvalidResourceHandle)
      << "never recorded";
  ASSERT_EQ(rt->cudaEventRecord(start, stream), cudaSuccess);
  ASSERT_EQ(launch(rt, 20'000'000, stream), cudaSuccess);
  ASSERT_EQ(launch(rt, 10'000'000, stream, kKernelB), cudaSuccess);
  ASSERT_EQ(rt->cudaEventRecord(end, stream), cudaSuccess);
  EXPECT_EQ(rt->cudaEventQuery(end), cudaErrorNotReady);
  EXPECT_EQ(rt->cudaEventElapsedTime(&ms, start, end), cudaErrorNotReady);
  ASSERT_EQ(rt->cudaEventSynchronize(end), cudaSuccess);
  EXPECT_EQ(rt->cudaEventQuery(end), cudaSuccess);
  ASSERT_EQ(rt->cudaEventElapsedTime(&ms, start, end), cudaSuccess);
  // Device-clock timestamps: 30 ms of kernels plus the host's gap between record and launch.
  EXPECT_GE(ms, 30.0f);
  EXPECT_LT(ms, 40.0f);

  // A stream can wait on another stream's event.
  cudaStream_t other = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&other), cudaSuccess);
  ASSERT_EQ(launch(rt, 20'000'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaEventRecord(end, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaStreamWaitEvent(other, end, 0), cudaSuccess);
  ASSERT_EQ(launch(rt, 1000, other), cudaSuccess);
  const int64_t wait_start = now_ns();
  ASSERT_EQ(rt->cudaStreamSynchronize(other), cudaSuccess);
  EXPECT_GE(ms_since(wait_start), 15.0);
  EXPECT_EQ(rt->cudaEventQuery(end), cudaSuccess);

  EXPECT_EQ(rt->cudaEventDestroy(start), cudaSuccess);
  EXPECT_EQ(rt->cudaEventDestroy(end), cudaSuccess);
  EXPECT_EQ(rt->cudaEventDestroy(end), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(rt->cudaStreamDestroy(other), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, CapturedWorkReplaysOnEveryGraphLaunch) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  const size_t bytes = 1024;
  void* device = nullptr;
  void* pinned = nullptr;
  void* out = nullptr;
  ASSERT_EQ(rt->cudaMalloc(&device, bytes), cudaSuccess);
  ASSERT_EQ(rt->cudaMallocHost(&pinned, bytes), cudaSuccess);
  ASSERT_EQ(rt->cudaMallocHost(&out, bytes), cudaSuccess);
  std::memset(pinned, 1, bytes);
  std::memset(out, 0, bytes);

  ASSERT_EQ(rt->cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
  const int64_t capture_start = now_ns();
  ASSERT_EQ(rt->cudaMemcpyAsync(device, pinned, bytes, cudaMemcpyHostToDevice, stream),
            cudaSuccess);
  for (int i = 0; i < 3; ++i) ASSERT_EQ(launch(rt, 10'000'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaMemcpyAsync(out, device, bytes, cudaMemcpyDeviceToHost, stream), cudaSuccess);
  cudaGraph_t graph = nullptr;
  ASSERT_EQ(rt->cudaStreamEndCapture(stream, &graph), cudaSuccess);
  ASSERT_NE(graph, nullptr);
  EXPECT_LT(ms_since(capture_start), 25.0) << "captured work (30 ms) must not execute";
  EXPECT_EQ(static_cast<unsigned char*>(out)[0], 0);

  cudaGraphExec_t exec = nullptr;
  ASSERT_EQ(rt->cudaGraphInstantiate(&exec, graph, 0), cudaSuccess);
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaGraphLaunch(exec, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaGraphLaunch(exec, stream), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamQuery(stream), cudaErrorNotReady) << "graph launches are asynchronous";
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  const double replay_ms = ms_since(start);
  EXPECT_GE(replay_ms, 60.0);
  EXPECT_LT(replay_ms, 60.0 + 60.0);
  EXPECT_EQ(static_cast<unsigned char*>(out)[bytes - 1], 1);

  EXPECT_EQ(rt->cudaGraphExecDestroy(exec), cudaSuccess);
  EXPECT_EQ(rt->cudaGraphDestroy(graph), cudaSuccess);
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(pinned), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(out), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, SynchronizingACapturingStreamInvalidatesTheCapture) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamBeginCapture(nullptr, cudaStreamCaptureModeGlobal),
            cudaErrorStreamCaptureUnsupported)
      << "the legacy stream cannot be captured";
  ASSERT_EQ(rt->cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamBeginCapture(stream, cudaStreamCaptureModeGlobal), cudaErrorIllegalState);
  ASSERT_EQ(launch(rt, 1000, stream), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamSynchronize(stream), cudaErrorStreamCaptureUnsupported);
  cudaGraph_t graph = nullptr;
  EXPECT_EQ(rt->cudaStreamEndCapture(stream, &graph), cudaErrorStreamCaptureInvalidated);
  EXPECT_EQ(graph, nullptr);
  EXPECT_EQ(rt->cudaStreamEndCapture(stream, &graph), cudaErrorIllegalState);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, BadInputGetsCudaErrorCodesAndLastErrorSemantics) {
  EXPECT_EQ(rt->cudaMalloc(nullptr, 16), cudaErrorInvalidValue);
  EXPECT_EQ(rt->cudaPeekAtLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(rt->cudaPeekAtLastError(), cudaErrorInvalidValue) << "peek does not reset";
  EXPECT_EQ(rt->cudaGetLastError(), cudaErrorInvalidValue);
  EXPECT_EQ(rt->cudaGetLastError(), cudaSuccess) << "get resets";

  int on_stack = 0;
  EXPECT_EQ(rt->cudaFree(&on_stack), cudaErrorInvalidValue) << "unknown pointer";
  EXPECT_EQ(rt->cudaFree(nullptr), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(&on_stack), cudaErrorInvalidValue);
  void* device = nullptr;
  ASSERT_EQ(rt->cudaMalloc(&device, 64), cudaSuccess);
  EXPECT_EQ(rt->cudaFreeHost(device), cudaErrorInvalidValue) << "device memory is not host memory";
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_EQ(rt->cudaFree(device), cudaErrorInvalidValue) << "double free";

  auto* bogus_stream = reinterpret_cast<cudaStream_t>(0x1234);
  EXPECT_EQ(rt->cudaStreamSynchronize(bogus_stream), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(rt->cudaStreamDestroy(bogus_stream), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(launch(rt, 1000, bogus_stream), cudaErrorInvalidResourceHandle);
  EXPECT_EQ(rt->cudaEventRecord(reinterpret_cast<cudaEvent_t>(0x5678), nullptr),
            cudaErrorInvalidResourceHandle);

  EXPECT_EQ(rt->cudaLaunchKernel(kKernelA, dim3(0), dim3(32), nullptr, 0, nullptr),
            cudaErrorInvalidConfiguration);
  EXPECT_EQ(rt->cudaLaunchKernel(kKernelA, dim3(1), dim3(2048), nullptr, 0, nullptr),
            cudaErrorInvalidConfiguration);
  EXPECT_EQ(rt->cudaLaunchKernel(nullptr, dim3(1), dim3(32), nullptr, 0, nullptr),
            cudaErrorInvalidDeviceFunction);
  EXPECT_EQ(rt->cudaGetLastError(), cudaErrorInvalidDeviceFunction) << "the latest error wins";

  unsigned char host[64] = {};
  ASSERT_EQ(rt->cudaMalloc(&device, sizeof(host)), cudaSuccess);
  EXPECT_EQ(rt->cudaMemcpy(device, host, sizeof(host), static_cast<cudaMemcpyKind>(9)),
            cudaErrorInvalidMemcpyDirection);
  EXPECT_EQ(rt->cudaMemcpy(host, host + 1, 8, cudaMemcpyHostToDevice), cudaErrorInvalidValue)
      << "destination is not device memory";
  EXPECT_EQ(rt->cudaMemcpy(device, host, sizeof(host) + 1, cudaMemcpyHostToDevice),
            cudaErrorInvalidValue)
      << "copy runs past the allocation";
  EXPECT_EQ(rt->cudaMemcpy(nullptr, host, 8, cudaMemcpyDefault), cudaErrorInvalidValue);
  EXPECT_EQ(rt->cudaMemset(host, 0, 8), cudaErrorInvalidValue);
  EXPECT_EQ(rt->cudaMemcpyPeer(device, 1, device, 0, 8), cudaErrorInvalidDevice);
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);

  EXPECT_EQ(rt->cudaSetDevice(1), cudaErrorInvalidDevice);
  EXPECT_EQ(rt->cudaSetDevice(0), cudaSuccess);
  EXPECT_STREQ(rt->cudaGetErrorString(cudaErrorInvalidValue), "invalid argument");
  EXPECT_STREQ(rt->cudaGetErrorString(static_cast<cudaError_t>(123456)), "unrecognized error code");
  rt->cudaGetLastError();
}

TEST_F(sim_runtime, FreeSynchronizesTheDeviceButFreeAsyncDoesNot) {
  cudaStream_t stream = nullptr;
  ASSERT_EQ(rt->cudaStreamCreate(&stream), cudaSuccess);
  void* device = nullptr;
  ASSERT_EQ(rt->cudaMallocAsync(&device, 1 << 20, stream), cudaSuccess);
  ASSERT_EQ(launch(rt, 30'000'000, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaFreeAsync(device, stream), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamQuery(stream), cudaErrorNotReady) << "cudaFreeAsync does not wait";
  EXPECT_EQ(rt->cudaFreeAsync(device, stream), cudaErrorInvalidValue) << "double free";

  ASSERT_EQ(rt->cudaMalloc(&device, 1 << 20), cudaSuccess);
  ASSERT_EQ(launch(rt, 30'000'000, stream), cudaSuccess);
  const int64_t start = now_ns();
  ASSERT_EQ(rt->cudaFree(device), cudaSuccess);
  EXPECT_GE(ms_since(start), 25.0) << "cudaFree waits for queued work, as CUDA's does";

  void* managed = nullptr;
  ASSERT_EQ(rt->cudaMallocManaged(&managed, 4096, cudaMemAttachGlobal), cudaSuccess);
  std::memset(managed, 3, 4096);  // managed memory is host-accessible
  ASSERT_EQ(rt->cudaMemsetAsync(managed, 4, 4096, stream), cudaSuccess);
  ASSERT_EQ(rt->cudaStreamSynchronize(stream), cudaSuccess);
  EXPECT_EQ(static_cast<unsigned char*>(managed)[4095], 4);
  EXPECT_EQ(rt->cudaFree(managed), cudaSuccess);
  EXPECT_EQ(rt->cudaStreamDestroy(stream), cudaSuccess);
}

TEST_F(sim_runtime, TwoDimensionalCopiesRespectPitches) {
  const size_t width = 16, height = 4, pitch = 64;
  void* device = nullptr;
  ASSERT_EQ(rt->cudaMalloc(&device, pitch * height), cudaSuccess);
  ASSERT_EQ(rt->cudaMemset(device, 0, pitch * height), cudaSuccess);
  std::vector<unsigned char> src(width * height);
  for (size_t i = 0; i < src.size(); ++i) src[i] = static_cast<unsigned char>(i + 1);
  ASSERT_EQ(
      rt->cudaMemcpy2D(device, pitch, src.data(), width, width, height, cudaMemcpyHostToDevice),
      cudaSuccess);
  std::vector<unsigned char> back(pitch * height, 0xff);
  ASSERT_EQ(rt->cudaMemcpy(back.data(), device, pitch * height, cudaMemcpyDeviceToHost),
            cudaSuccess);
  EXPECT_EQ(back[0], 1);
  EXPECT_EQ(back[width], 0) << "bytes between rows untouched";
  EXPECT_EQ(back[pitch], src[width]);
  EXPECT_EQ(back[3 * pitch + width - 1], src.back());
  EXPECT_EQ(rt->cudaMemcpy2D(device, 8, src.data(), width, width, height, cudaMemcpyHostToDevice),
            cudaErrorInvalidPitchValue);
  EXPECT_EQ(rt->cudaFree(device), cudaSuccess);

  cudaLaunchConfig_t config{};
  config.gridDim = dim3(10);
  config.blockDim = dim3(1000);
  EXPECT_EQ(rt->cudaLaunchKernelExC(&config, kKernelB, nullptr), cudaSuccess);
  EXPECT_EQ(rt->cudaDeviceSynchronize(), cudaSuccess);
  rt->cudaGetLastError();
}

}  // namespace
