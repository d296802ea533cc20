// Library discovery without root: /proc/PID/maps parsing, CUDA library recognition, ELF
// symbol offsets and build-ids (on NVIDIA's real libcudart from the CUDA toolkit).
#include <gtest/gtest.h>
#include <unistd.h>

#include "capture/libraries.h"
#include "support/test_support.h"

namespace causeway::capture {
namespace {

const std::string kRealCudart = causeway::testing::cuda_home() + "/lib64/libcudart.so.13";

TEST(CaptureLibraries, ReadsOwnMaps) {
  auto maps = read_maps(getpid());
  ASSERT_TRUE(maps.ok()) << maps.error();
  bool found_exec = false;
  for (const auto& m : maps.value()) {
    EXPECT_LT(m.start, m.end);
    if (m.perms.size() >= 3 && m.perms[2] == 'x' && !m.path.empty() && m.path[0] == '/')
      found_exec = true;
  }
  EXPECT_TRUE(found_exec);
  EXPECT_FALSE(read_maps(999999999).ok());
}

TEST(CaptureLibraries, RecognisesCudaLibrariesByFileName) {
  EXPECT_EQ(classify_cuda_library("/usr/local/cuda/lib64/libcudart.so.13"), CudaLibrary::kRuntime);
  EXPECT_EQ(classify_cuda_library(
                "/venv/lib/python3.11/site-packages/nvidia/cuda_runtime/lib/libcudart.so.12"),
            CudaLibrary::kRuntime);
  EXPECT_EQ(classify_cuda_library("/usr/lib/x86_64-linux-gnu/libcuda.so.1"), CudaLibrary::kDriver);
  EXPECT_EQ(classify_cuda_library("/usr/lib/libcudnn.so.9"), std::nullopt);
  EXPECT_EQ(classify_cuda_library("/usr/lib/libcublas.so.13"), std::nullopt);
  EXPECT_EQ(library_version("/opt/x/libcudart.so.13.0.96"), "13.0.96");
}

TEST(CaptureLibraries, FindsSymbolsAndBuildIdOfTheRealRuntime) {
  CAUSEWAY_REQUIRE_CUDA_TOOLKIT();
  auto syms = ElfSymbols::load(kRealCudart);
  ASSERT_TRUE(syms.ok()) << syms.error();
  for (const char* fn : {"cudaMalloc", "cudaLaunchKernel", "cudaMemcpyAsync",
                         "cudaMemcpyAsync_ptsz", "cudaStreamSynchronize"}) {
    auto off = syms->offset_of(fn);
    ASSERT_TRUE(off.has_value()) << fn;
    EXPECT_GT(*off, 0u);
  }
  EXPECT_FALSE(syms->offset_of("cuLaunchKernel").has_value());
  EXPECT_EQ(syms->build_id().size(), 40u);
  EXPECT_EQ(read_build_id(kRealCudart), syms->build_id());
  auto lib = library_from_path(kRealCudart, CudaLibrary::kRuntime);
  ASSERT_TRUE(lib.ok());
  EXPECT_GT(lib->inode, 0u);
  EXPECT_FALSE(library_from_path("/nonexistent/libcudart.so", CudaLibrary::kRuntime).ok());
}

}  // namespace
}  // namespace causeway::capture
