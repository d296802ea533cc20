// capture/event_source: every drop source has its own name (they are meta keys and summary
// words), and only ring losses count as "dropped" (meta drops_total, the live status line).
#include "capture/event_source.h"

#include <gtest/gtest.h>

#include <set>
#include <string>

namespace causeway::capture {
namespace {

TEST(capture_event_source, EverySourceHasItsOwnName) {
  std::set<std::string> names;
  for (int i = 0; i < CW_SRC_COUNT; i++) {
    const std::string n = source_name(i);
    EXPECT_NE(n, "unknown") << "source " << i << " has no name";
    EXPECT_TRUE(names.insert(n).second) << "two sources named " << n;
  }
  EXPECT_STREQ(source_name(CW_SRC_STACK_COPY), "stack_copy");
  EXPECT_STREQ(source_name(CW_SRC_COUNT), "unknown");
}

TEST(capture_event_source, RingDropsLeaveOutGapsThatKeepTheEvent) {
  DropCounts d{};
  d[CW_SRC_CUDA] = 3;
  d[CW_SRC_SCHED] = 5;
  d[CW_SRC_BLOCKIO] = 7;
  d[CW_SRC_CUDA_LOST_ENTRY] = 100;
  d[CW_SRC_STACK_COPY] = 1000;
  EXPECT_EQ(ring_drops(d), 15u);
  EXPECT_FALSE(is_ring_drop(CW_SRC_CUDA_LOST_ENTRY));
  EXPECT_FALSE(is_ring_drop(CW_SRC_STACK_COPY));
  EXPECT_TRUE(is_ring_drop(CW_SRC_PROC));
  EXPECT_EQ(ring_drops(DropCounts{}), 0u);
}

}  // namespace
}  // namespace causeway::capture
