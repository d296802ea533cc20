// An EventSource that empties another one on its own thread into a bounded in-memory queue.
//
// Why: the thread that decodes records and writes them to SQLite stalls now and then (a
// commit, a WAL checkpoint with its fsyncs, a burst of new stacks) for longer than the BPF
// ring buffer lasts at 200,000 CUDA calls/s (16 MiB hold ~0.4 s). A dedicated thread that only
// copies records out of the ring keeps the ring drained through those stalls; the queue it
// fills gives the writer as much slack again.
//
// Memory: the queue holds at most `capacity_bytes` of records (plus one chunk's worth when a
// stop cuts a wait short, below), in chunks allocated on first use and reused, so the tracer's
// RSS grows by at most that much. Back-pressure is never silent: when the queue is full the
// drain thread stops reading the inner source (the BPF ring then fills and the BPF programs
// count every record they cannot reserve, per source, in the drop counters), it never
// discards a record itself.
//
// Order: records are delivered in exactly the order the inner source produced them.
//
// Thread-safety: poll(), stop() and the accessors are for one consumer thread. The drain
// thread calls only inner.poll(); inner.drops() is called from the consumer thread, so the
// inner source must allow drops() (and whatever else its owner calls) concurrently with
// poll() (BpfSource does: they touch BPF maps, poll() touches the ring).
#pragma once

#include <condition_variable>
#include <cstdint>
#include <deque>
#include <memory>
#include <mutex>
#include <thread>
#include <vector>

#include "capture/event_source.h"

namespace causeway::capture {

class DrainingSource final : public EventSource {
 public:
  // Starts the drain thread at once. `inner` must outlive this object (or stop()).
  // `capacity_bytes` bounds the queue (at least one chunk, 256 KiB, is allowed);
  // `inner_poll_ms` is how long the drain thread waits in inner.poll() per round, which also
  // bounds how long stop() waits for it.
  DrainingSource(EventSource& inner, size_t capacity_bytes, int inner_poll_ms);
  ~DrainingSource() override;  // stop(false)
  DrainingSource(const DrainingSource&) = delete;
  DrainingSource& operator=(const DrainingSource&) = delete;

  // Delivers queued records in order, waiting up to `timeout_ms` for the first. Returns how
  // many were delivered; a failed Result when the inner source failed and nothing is queued.
  // When `consume` returns false the undelivered records stay queued for the next poll().
  Result<int64_t> poll(int timeout_ms, const RecordConsumer& consume) override;
  DropCounts drops() const override { return inner_.drops(); }

  // Stops and joins the drain thread. With `drain`, it first moves everything the inner
  // source holds now into the queue; the caller (the consumer thread) is not consuming
  // meanwhile, so the queue's bound is lifted for this final drain (it adds at most what the
  // inner source held: the ring's size). Without, it stops at once; a record it was holding
  // while waiting for space is still queued. Queued records stay available to poll().
  // Idempotent.
  void stop(bool drain);

  // Bytes of queue memory holding records now, and the most ever held (for tests and the
  // summary).
  size_t held_bytes() const;
  size_t peak_bytes() const;
  // Times the drain thread found the queue full and had to wait (back-pressure episodes).
  uint64_t full_waits() const;

  static constexpr size_t kChunkBytes = 256 * 1024;

 private:
  struct Chunk {
    std::vector<uint8_t> buf;
    size_t used = 0;  // bytes written by the drain thread
    size_t read = 0;  // bytes delivered by poll()
  };

  void run();
  bool push(std::span<const uint8_t> rec);   // the drain thread's consumer
  void write(std::span<const uint8_t> rec);  // drain thread: append to current_ (has room)
  void publish_current();                    // drain thread: current chunk -> ready_
  void release(std::unique_ptr<Chunk> c);    // consumer: a delivered chunk -> free list

  EventSource& inner_;
  const size_t capacity_;
  const int inner_poll_ms_;

  mutable std::mutex mu_;
  std::condition_variable ready_cv_;  // consumer waits for records or the end
  std::condition_variable space_cv_;  // drain thread waits for queue space
  std::deque<std::unique_ptr<Chunk>> ready_;
  std::vector<std::unique_ptr<Chunk>> free_;  // standard-size chunks for reuse
  size_t held_ = 0;                           // bytes of chunks in ready_, current_, or delivering
  size_t peak_ = 0;
  uint64_t full_waits_ = 0;
  bool stop_ = false;       // the drain thread should end
  bool drain_ = false;      // ... after one final drain of the inner source
  bool unbounded_ = false;  // final drain: the consumer is waiting for us, not consuming
  bool finished_ = false;   // the drain thread has ended
  Status error_;            // the inner source's poll failure, if any

  std::unique_ptr<Chunk> current_;  // drain thread only: the chunk being filled
  std::thread thread_;
  bool joined_ = false;
};

}  // namespace causeway::capture
