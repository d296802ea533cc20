// data_loader (src/analyze/detect_data_loader.cpp): a consumer that keeps waiting for producers
// that read and decode; and the lock contention that looks like it from the waiting side.
#include <gtest/gtest.h>

#include "fixtures/scenarios.h"
#include "support/chain_support.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using analyze::Chain;

TEST(AnalyzeDetectDataLoaderTest, DataLoaderThatCannotKeepUpIsNamedWithWhatTheLoaderWasDoing) {
  TempDir dir;
  scenarios::data_loader(dir.file("t.db"), false);
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "data_loader") << dump(v);
  EXPECT_EQ(top.severity, "high");
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm.rfind("loader-", 0), 0u) << top.culprit->comm;
  EXPECT_EQ(top.occurrences, 120);
  ASSERT_FALSE(top.waker_chain.empty());
  EXPECT_EQ(top.waker_chain[0].activity, "blocked_io") << top.waker_chain[0].detail;
  EXPECT_NE(top.waker_chain[0].detail.find("pread64"), std::string::npos);
  EXPECT_NE(top.waker_chain[0].detail.find("8:0"), std::string::npos);
  EXPECT_NE(top.recommendation.find("disk-bound"), std::string::npos);
  EXPECT_TRUE(cites(top, "syscall"));
}

// The live scenario_dataloader shape: the consumer waits on a condition variable in one of
// the five gaps of a step, not in every step, and sometimes queues briefly for the queue
// mutex that the loaders also take. Still a data loader, not lock contention.
TEST(AnalyzeDetectDataLoaderTest, ConsumerWaitingOnAConditionTheLoadersSignalIsDataLoader) {
  TempDir dir;
  scenarios::data_loader_condvar(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "data_loader") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm.rfind("loader-", 0), 0u) << top.culprit->comm;
  EXPECT_EQ(top.subject.tid, 800);
  EXPECT_EQ(top.occurrences, 60);  // 3 of every 4 steps waited
  EXPECT_EQ(find(v, "lock_wait"), nullptr) << dump(v);
  EXPECT_NE(top.recommendation.find("loader"), std::string::npos) << top.recommendation;
}

// Both threads queue for the same futex word every step: the recurrence of a data loader,
// but the waker is a lock holder that itself waits for the lock. Lock contention.
TEST(AnalyzeDetectDataLoaderTest, ThreadsQueueingForTheSameMutexEveryStepIsLockWaitNotDataLoader) {
  TempDir dir;
  scenarios::mutex_contention(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  EXPECT_EQ(top.severity, "high") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "stats");
  // 2 ms per step; the first step's wait comes before the first CUDA call, outside the span.
  EXPECT_EQ(top.blocked_by_reason.at("futex"), 99 * 2 * kMs);
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
}

// The waker never waits on the lock (no contention visible from its side) but spends every
// wait in fdatasync: a lock held across output I/O, not a loader producing input.
TEST(AnalyzeDetectDataLoaderTest, LockHeldAcrossFdatasyncEveryStepIsLockWaitNotDataLoader) {
  TempDir dir;
  scenarios::lock_held_across_fsync_every_step(dir.file("t.db"));
  auto v = chains_of(dir.file("t.db"));
  ASSERT_FALSE(v.empty());
  const Chain& top = v.front();
  EXPECT_EQ(top.category, "lock_wait") << dump(v);
  ASSERT_TRUE(top.culprit);
  EXPECT_EQ(top.culprit->comm, "logger");
  EXPECT_NE(top.recommendation.find("fdatasync"), std::string::npos) << top.recommendation;
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
}

// The same waits (the logger computes, then ends decode's wait) are a lock when decode waited
// to acquire a mutex, and a data loader when it waited on a condition the logger signals.
TEST(AnalyzeDetectDataLoaderTest, LockHeldAcrossCpuWorkIsLockWaitAndTheSameHandOffIsDataLoader) {
  TempDir dir;
  scenarios::lock_held_across_cpu_work_every_step(dir.file("mutex.db"), 128);
  auto v = chains_of(dir.file("mutex.db"));
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front().category, "lock_wait") << dump(v);
  ASSERT_TRUE(v.front().culprit);
  EXPECT_EQ(v.front().culprit->comm, "logger");
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);

  scenarios::lock_held_across_cpu_work_every_step(dir.file("condvar.db"), 137);
  v = chains_of(dir.file("condvar.db"));
  ASSERT_FALSE(v.empty());
  EXPECT_EQ(v.front().category, "data_loader") << dump(v);
  ASSERT_TRUE(v.front().culprit);
  EXPECT_EQ(v.front().culprit->comm, "logger");
}

TEST(AnalyzeDetectDataLoaderTest, HealthyDataLoaderRaisesNoHighChain) {
  TempDir dir;
  scenarios::data_loader(dir.file("t.db"), true);
  auto v = chains_of(dir.file("t.db"));
  expect_no_high(v);
  EXPECT_EQ(find(v, "data_loader"), nullptr) << dump(v);
  EXPECT_EQ(find(v, "pageable_copy"), nullptr) << dump(v);
}

}  // namespace
}  // namespace causeway::testing
