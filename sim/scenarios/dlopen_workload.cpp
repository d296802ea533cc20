// Starts without any CUDA library mapped, optionally waits, then dlopen()s a libcudart and calls
// a few functions: for capture tests of libraries loaded after the tracer attached.
//
// usage: dlopen_workload [--cudart PATH] [--delay-ms N] [--iterations N]
// PATH defaults to $CAUSEWAY_SIM_CUDART, else the simulated runtime in the build tree. Prints a
// summary line with per-function call counts and the last return code of each.
#include <cuda_runtime_api.h>
#include <dlfcn.h>
#include <time.h>

#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

namespace {

[[noreturn]] void usage(int code) {
  std::fprintf(code == 0 ? stdout : stderr,
               "usage: dlopen_workload [--cudart PATH] [--delay-ms N] [--iterations N]\n"
               "Waits --delay-ms (default 0), dlopen()s the CUDA runtime at PATH (default "
               "$CAUSEWAY_SIM_CUDART or %s),\nthen calls cudaGetDeviceCount once and cudaMalloc, "
               "cudaMemcpy, cudaLaunchKernel, cudaStreamSynchronize,\ncudaFree --iterations times "
               "(default 3).\n",
               SIM_DEFAULT_CUDART);
  std::exit(code);
}

void late_kernel() {}

template <typename Fn>
Fn lookup(void* library, const char* name) {
  void* symbol = dlsym(library, name);
  if (symbol == nullptr) {
    std::fprintf(stderr, "dlopen_workload: %s not found in the library.\n", name);
    std::exit(1);
  }
  return reinterpret_cast<Fn>(symbol);
}

}  // namespace

int main(int argc, char** argv) {
  const char* env = std::getenv("CAUSEWAY_SIM_CUDART");
  std::string path = env != nullptr && *env != '\0' ? env : SIM_DEFAULT_CUDART;
  long delay_ms = 0;
  long iterations = 3;
  for (int i = 1; i < argc; ++i) {
    std::string arg = argv[i];
    if (arg == "--help" || arg == "-h") usage(0);
    if (i + 1 >= argc) usage(2);
    if (arg == "--cudart") {
      path = argv[++i];
    } else if (arg == "--delay-ms") {
      delay_ms = std::strtol(argv[++i], nullptr, 10);
    } else if (arg == "--iterations") {
      iterations = std::strtol(argv[++i], nullptr, 10);
    } else {
      usage(2);
    }
  }
  if (delay_ms > 0) {
    timespec ts{delay_ms / 1000, (delay_ms % 1000) * 1000000};
    nanosleep(&ts, nullptr);
  }

  void* library = dlopen(path.c_str(), RTLD_NOW | RTLD_LOCAL);
  if (library == nullptr) {
    std::fprintf(stderr, "dlopen_workload: cannot load %s: %s\n", path.c_str(), dlerror());
    return 1;
  }
  auto get_count = lookup<decltype(&cudaGetDeviceCount)>(library, "cudaGetDeviceCount");
  auto malloc_fn = lookup<decltype(&cudaMalloc)>(library, "cudaMalloc");
  auto memcpy_fn = lookup<decltype(&cudaMemcpy)>(library, "cudaMemcpy");
  auto launch = lookup<decltype(&cudaLaunchKernel)>(library, "cudaLaunchKernel");
  auto sync = lookup<decltype(&cudaStreamSynchronize)>(library, "cudaStreamSynchronize");
  auto free_fn = lookup<decltype(&cudaFree)>(library, "cudaFree");

  int count = 0;
  const int rc_count = get_count(&count);
  int rc_malloc = 0, rc_memcpy = 0, rc_launch = 0, rc_sync = 0, rc_free = 0;
  char host[4096];
  std::memset(host, 1, sizeof(host));
  for (long i = 0; i < iterations; ++i) {
    void* device = nullptr;
    rc_malloc = malloc_fn(&device, sizeof(host));
    rc_memcpy = memcpy_fn(device, host, sizeof(host), cudaMemcpyHostToDevice);
    rc_launch = launch(reinterpret_cast<const void*>(&late_kernel), dim3(64), dim3(256), nullptr, 0,
                       nullptr);
    rc_sync = sync(nullptr);
    rc_free = free_fn(device);
  }
  std::printf(
      "summary scenario=dlopen_workload library=%s devices=%d cudaGetDeviceCount=1 "
      "cudaMalloc=%ld cudaMemcpy=%ld cudaLaunchKernel=%ld cudaStreamSynchronize=%ld cudaFree=%ld "
      "bytes_h2d=%ld rc_cudaGetDeviceCount=%d rc_cudaMalloc=%d rc_cudaMemcpy=%d "
      "rc_cudaLaunchKernel=%d rc_cudaStreamSynchronize=%d rc_cudaFree=%d\n",
      path.c_str(), count, iterations, iterations, iterations, iterations, iterations,
      iterations * static_cast<long>(sizeof(host)), rc_count, rc_malloc, rc_memcpy, rc_launch,
      rc_sync, rc_free);
  return 0;
}
