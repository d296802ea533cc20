// lock_wait (src/analyze/detect_lock_wait.cpp): a thread blocked on a lock, named for the
// holder, with what the holder did meanwhile.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectLockWaitTest, LockHeldAcrossFdatasyncIsLockWaitWithTheLoggerAndItsDisk) {
  TempDir dir;
  scenarios::lock_wait(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "logger");
  EXPECT_EQ(top.culprit->tid, 701);
  ASSERT_FALSE(top.waker_chain.empty());
  EXPECT_EQ(top.waker_chain[0].task.comm, "logger");
  EXPECT_EQ(top.waker_chain[0].activity, "blocked_io");
  EXPECT_NE(top.waker_chain[0].detail.find("fdatasync"), std::string::npos);
  EXPECT_NE(top.recommendation.find("fdatasync"), std::string::npos) << top.recommendation;
  // Each wait lasts from the lock request to the logger's release: 25 ms of fdatasync plus
  // 200 us of the logger running around it.
  EXPECT_EQ(top.blocked_by_reason.at("futex"), 5 * (25 * kMs + 200 * kUs));
  EXPECT_TRUE(cites(top, "block_io") || cites(top, "syscall"));
}

TEST(AnalyzeDetectLockWaitTest, HealthyLockRunRaisesNothing) {
  TempDir dir;
  scenarios::lock_wait(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  EXPECT_TRUE(v.empty()) << dump(v);
}

}  // namespace
}  // namespace causeway::testing
