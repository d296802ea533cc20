// DrainingSource: the drain thread between the BPF ring and the decoder. Checks that records
// arrive complete and in order, that the queue's memory bound holds and turns into
// back-pressure on the inner source (never a silent loss), and the stop semantics capture's
// shutdown relies on.
#include "capture/draining_source.h"

#include <gtest/gtest.h>

#include <atomic>
#include <chrono>
#include <cstring>
#include <thread>
#include <vector>

namespace causeway::capture {
namespace {

using namespace std::chrono_literals;

// Record i: its sequence number, then bytes (i + j) up to a size that varies with i.
size_t record_size(uint64_t i) {
  return 8 + (i % 61) * 8 + (i % 3);  // 8 .. 491 bytes, not all multiples of 8
}

std::vector<uint8_t> make_record(uint64_t i) {
  std::vector<uint8_t> r(record_size(i));
  std::memcpy(r.data(), &i, sizeof i);
  for (size_t j = 8; j < r.size(); j++) r[j] = static_cast<uint8_t>(i + j);
  return r;
}

// Hands out records 0..limit-1, at most `per_poll` per poll() call, like a ring that fills
// at its own pace. A record offered to a consumer that returns false is gone (as in
// libbpf's ring buffer). Thread-safe counters for the test to watch.
class CountingSource final : public EventSource {
 public:
  CountingSource(uint64_t limit, uint64_t per_poll) : limit_(limit), per_poll_(per_poll) {}
  Result<int64_t> poll(int timeout_ms, const RecordConsumer& consume) override {
    if (fail_.load()) return Status::Error("the ring broke");
    int64_t n = 0;
    for (uint64_t k = 0; k < per_poll_ && next_.load() < limit_; k++) {
      const auto rec = make_record(next_.load());
      next_.fetch_add(1);
      n++;
      if (!consume(rec)) break;
    }
    if (n == 0 && timeout_ms > 0) std::this_thread::sleep_for(1ms);
    return n;
  }
  DropCounts drops() const override { return DropCounts{}; }
  uint64_t handed_out() const { return next_.load(); }
  void fail() { fail_.store(true); }

 private:
  const uint64_t limit_, per_poll_;
  std::atomic<uint64_t> next_{0};
  std::atomic<bool> fail_{false};
};

// Polls `src` until `want` records have arrived (no more) or `deadline` passes; checks each
// record.
uint64_t consume_all(DrainingSource& src, uint64_t first, uint64_t want,
                     std::chrono::milliseconds deadline = 20s) {
  uint64_t expect = first;
  const auto end = std::chrono::steady_clock::now() + deadline;
  while (expect < first + want && std::chrono::steady_clock::now() < end) {
    auto polled = src.poll(20, [&](std::span<const uint8_t> rec) {
      const auto want_rec = make_record(expect);
      EXPECT_EQ(rec.size(), want_rec.size()) << "record " << expect;
      EXPECT_TRUE(std::equal(rec.begin(), rec.end(), want_rec.begin(), want_rec.end()))
          << "record " << expect;
      expect++;
      // Stop at `want`: one poll delivers whole chunks, and the records after `want` are
      // for a later call (the record that returns false counts as delivered).
      return expect < first + want;
    });
    EXPECT_TRUE(polled.ok());
  }
  return expect - first;
}

TEST(CaptureDrainingSource, DeliversEveryRecordInOrderAndIntact) {
  const uint64_t n = 200'000;  // ~50 MB through a 2 MiB queue
  CountingSource inner(n, 5000);
  DrainingSource src(inner, 2 << 20, 5);
  EXPECT_EQ(consume_all(src, 0, n), n);
  EXPECT_LE(src.peak_bytes(), size_t{2} << 20);
  src.stop(true);
  EXPECT_EQ(src.poll(0, [](std::span<const uint8_t>) { return true; }).value(), 0);
}

TEST(CaptureDrainingSource, AFullQueueStopsReadingTheInnerSourceInsteadOfDropping) {
  CountingSource inner(1'000'000, 1000);
  const size_t capacity = 2 * DrainingSource::kChunkBytes;
  DrainingSource src(inner, capacity, 5);
  // Nobody consumes: the drain thread fills the queue, then waits.
  std::this_thread::sleep_for(300ms);
  const uint64_t taken = inner.handed_out();
  std::this_thread::sleep_for(200ms);
  EXPECT_EQ(inner.handed_out(), taken) << "the drain thread kept reading into a full queue";
  EXPECT_LE(src.held_bytes(), capacity);
  EXPECT_GE(src.full_waits(), 1u);
  // Every record taken from the inner source is in the queue: at least a queue's worth
  // (records are at most 504 bytes with their header) and nothing lost once consumed.
  EXPECT_GT(taken, capacity / 504 - 2);
  EXPECT_EQ(consume_all(src, 0, 100'000), 100'000u);
  EXPECT_GT(inner.handed_out(), taken);  // space came back, reading resumed
}

TEST(CaptureDrainingSource, StopWithDrainQueuesWhatTheInnerSourceStillHolds) {
  // A small queue and no consumer: at the stop, the inner source still holds most records.
  const uint64_t n = 20'000;
  CountingSource inner(n, 100'000);
  DrainingSource src(inner, DrainingSource::kChunkBytes, 5);
  std::this_thread::sleep_for(100ms);
  EXPECT_LT(inner.handed_out(), n);
  src.stop(/*drain=*/true);
  EXPECT_EQ(inner.handed_out(), n);
  EXPECT_EQ(consume_all(src, 0, n, 2s), n);
}

TEST(CaptureDrainingSource, StopWithoutDrainLosesNothingItTook) {
  CountingSource inner(1'000'000, 1000);
  DrainingSource src(inner, DrainingSource::kChunkBytes, 5);
  std::this_thread::sleep_for(100ms);  // full, blocked holding one record
  src.stop(/*drain=*/false);
  const uint64_t taken = inner.handed_out();
  EXPECT_EQ(consume_all(src, 0, taken, 2s), taken);  // including the one it was holding
  EXPECT_EQ(src.poll(0, [](std::span<const uint8_t>) { return true; }).value(), 0);
}

TEST(CaptureDrainingSource, AConsumerThatStopsLeavesTheRestForTheNextPoll) {
  CountingSource inner(1000, 1000);
  DrainingSource src(inner, 1 << 20, 5);
  std::this_thread::sleep_for(50ms);
  src.stop(true);
  int64_t seen = 0;
  auto polled = src.poll(0, [&](std::span<const uint8_t>) { return ++seen < 10; });
  ASSERT_TRUE(polled.ok());
  EXPECT_EQ(polled.value(), 10);
  EXPECT_EQ(consume_all(src, 10, 990, 2s), 990u);
}

TEST(CaptureDrainingSource, AnInnerFailureIsReportedAfterTheQueuedRecords) {
  CountingSource inner(1'000'000, 100);
  DrainingSource src(inner, 64 << 20, 5);
  std::this_thread::sleep_for(50ms);
  inner.fail();
  std::this_thread::sleep_for(50ms);
  const uint64_t taken = inner.handed_out();
  ASSERT_GT(taken, 0u);
  EXPECT_EQ(consume_all(src, 0, taken, 2s), taken);
  auto polled = src.poll(20, [](std::span<const uint8_t>) { return true; });
  ASSERT_FALSE(polled.ok());
  EXPECT_NE(polled.error().find("the ring broke"), std::string::npos);
}

}  // namespace
}  // namespace causeway::capture
