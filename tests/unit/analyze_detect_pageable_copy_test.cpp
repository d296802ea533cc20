// pageable_copy (src/analyze/detect_pageable_copy.cpp): copies from memory that is not
// page-locked.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectPageableCopyTest, CopiesFromPageableMemoryArePageableCopy) {
  TempDir dir;
  scenarios::pageable_copy(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  const Chain* c = find(v, "pageable_copy");
  ASSERT_NE(c, nullptr) << dump(v);
  EXPECT_EQ(c->occurrences, 60);
  EXPECT_EQ(c->impact_ns, 60 * 1600 * kUs);  // staging on the CPU inside the copies
  EXPECT_NE(c->recommendation.find("cudaMallocHost"), std::string::npos);
}

TEST(AnalyzeDetectPageableCopyTest, CopiesFromPinnedMemoryAreNotFlagged) {
  TempDir dir;
  scenarios::pageable_copy(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_EQ(find(v, "pageable_copy"), nullptr) << dump(v);
  expect_no_high(v);
}

}  // namespace
}  // namespace causeway::testing
