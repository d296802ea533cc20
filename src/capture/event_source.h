// One interface for every producer of raw capture records (include/causeway/abi/events.h):
// the live eBPF programs (BpfSource), and synthetic events for tests (SyntheticSource).
// The decoder and everything after it cannot tell them apart.
#pragma once

#include <array>
#include <cstdint>
#include <functional>
#include <span>
#include <vector>

#include "causeway/abi/events.h"
#include "common/result.h"

namespace causeway::capture {

// Records lost per source (enum cw_source), as counted where they were lost.
using DropCounts = std::array<uint64_t, CW_SRC_COUNT>;

// Name of a cw_source for summaries and meta keys ("cuda", "sched", ...).
const char* source_name(int source);

// Whether a source's count is events the ring lost. cuda_lost_entry (a return whose entry
// record was missing) and stack_copy (a --call-graph dwarf copy not made; the event is kept)
// are gaps of another kind, shown per source but not summed into "dropped".
bool is_ring_drop(int source);
// The sum of the ring drops in `drops` (meta drops_total, the live status line).
uint64_t ring_drops(const DropCounts& drops);

// Receives one record; returns false to stop delivery (e.g. the database failed).
using RecordConsumer = std::function<bool(std::span<const uint8_t> record)>;

class EventSource {
 public:
  virtual ~EventSource() = default;
  // Delivers the records available now to `consume`, waiting up to `timeout_ms` for the
  // first one. Returns how many were delivered, or a failed Result on a polling error.
  virtual Result<int64_t> poll(int timeout_ms, const RecordConsumer& consume) = 0;
  // Records lost so far, per source.
  virtual DropCounts drops() const = 0;
};

// Replays records given up front, in order, then reports nothing more.
class SyntheticSource final : public EventSource {
 public:
  void push(std::span<const uint8_t> record) {
    records_.emplace_back(record.begin(), record.end());
  }
  template <typename T>
  void push_event(const T& ev, size_t size = sizeof(T)) {
    push(std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&ev), size));
  }
  void set_drops(const DropCounts& d) { drops_ = d; }

  Result<int64_t> poll(int timeout_ms, const RecordConsumer& consume) override;
  DropCounts drops() const override { return drops_; }

 private:
  std::vector<std::vector<uint8_t>> records_;
  size_t next_ = 0;
  DropCounts drops_{};
};

}  // namespace causeway::capture
