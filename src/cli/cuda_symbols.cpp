#include "cli/cuda_symbols.h"

namespace causeway::cli {
const std::vector<std::string>& probed_runtime_symbols() {
  static const std::vector<std::string> names = {
      "cudaMalloc", "cudaFree", "cudaMemcpy", "cudaMemcpyAsync", "cudaLaunchKernel",
      "cudaStreamSynchronize", "cudaDeviceSynchronize", "cudaEventSynchronize"};
  return names;
}
const std::vector<std::string>& probed_driver_symbols() {
  static const std::vector<std::string> names = {"cuInit", "cuMemAlloc_v2", "cuMemFree_v2",
                                                 "cuLaunchKernel", "cuStreamSynchronize",
                                                 "cuCtxSynchronize"};
  return names;
}
}  // namespace causeway::cli
