// closest_names: the "did you mean" behind an unknown CUDA function name.
#include "common/suggest.h"

#include <gtest/gtest.h>

#include <string>
#include <vector>

namespace causeway {
namespace {

const std::vector<std::string> kNames = {
    "cudaStreamSynchronize", "cudaLaunchKernel", "cudaMemcpyAsync", "cudaMemcpy", "cudaMalloc",
    "cudaDeviceSynchronize"};

TEST(ClosestNames, WrongCaseIsThatNameAlone) {
  EXPECT_EQ(closest_names("cudastreamsynchronize", kNames),
            std::vector<std::string>{"cudaStreamSynchronize"});
  EXPECT_EQ(closest_names("CUDAMEMCPY", kNames), std::vector<std::string>{"cudaMemcpy"});
}

TEST(ClosestNames, CutShortOrPartialNamesShortestFirst) {
  EXPECT_EQ(closest_names("cudaStreamSync", kNames),
            std::vector<std::string>{"cudaStreamSynchronize"});
  EXPECT_EQ(closest_names("memcpy", kNames),
            (std::vector<std::string>{"cudaMemcpy", "cudaMemcpyAsync"}));
  EXPECT_EQ(closest_names("Synchronize", kNames),
            (std::vector<std::string>{"cudaDeviceSynchronize", "cudaStreamSynchronize"}));
  // A name with more after a traced one: cudaMallocAsync was not called, cudaMalloc was.
  EXPECT_EQ(closest_names("cudaMallocAsync", kNames), std::vector<std::string>{"cudaMalloc"});
}

TEST(ClosestNames, TyposWithinAFewEdits) {
  EXPECT_EQ(closest_names("cudaLaunchKernal", kNames),
            std::vector<std::string>{"cudaLaunchKernel"});
  EXPECT_EQ(closest_names("cudaStreamSynchronise", kNames),
            std::vector<std::string>{"cudaStreamSynchronize"});
}

TEST(ClosestNames, NothingCloseGivesNoHint) {
  EXPECT_TRUE(closest_names("cudaNoSuch", kNames).empty());
  EXPECT_TRUE(closest_names("", kNames).empty());
  EXPECT_TRUE(closest_names("xy", kNames).empty());
  EXPECT_TRUE(closest_names("cudaMemcpy", {}).empty());
}

TEST(ClosestNames, AtMostMax) {
  EXPECT_EQ(closest_names("cuda", kNames, 2).size(), 2u);
}

}  // namespace
}  // namespace causeway
