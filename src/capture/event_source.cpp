#include "capture/event_source.h"

namespace causeway::capture {

const char* source_name(int source) {
  switch (source) {
    case CW_SRC_CUDA:
      return "cuda";
    case CW_SRC_SCHED:
      return "sched";
    case CW_SRC_PROC:
      return "proc";
    case CW_SRC_SYSCALL:
      return "syscall";
    case CW_SRC_BLOCKIO:
      return "blockio";
    case CW_SRC_CUDA_LOST_ENTRY:
      return "cuda_lost_entry";
    case CW_SRC_STACK_COPY:
      return "stack_copy";
    default:
      return "unknown";
  }
}

bool is_ring_drop(int source) {
  return source != CW_SRC_CUDA_LOST_ENTRY && source != CW_SRC_STACK_COPY;
}

uint64_t ring_drops(const DropCounts& drops) {
  uint64_t total = 0;
  for (int i = 0; i < CW_SRC_COUNT; i++) {
    if (is_ring_drop(i)) total += drops[static_cast<size_t>(i)];
  }
  return total;
}

Result<int64_t> SyntheticSource::poll(int /*timeout_ms*/, const RecordConsumer& consume) {
  int64_t n = 0;
  while (next_ < records_.size()) {
    const auto& r = records_[next_++];
    n++;
    if (!consume(std::span<const uint8_t>(r.data(), r.size()))) break;
  }
  return n;
}

}  // namespace causeway::capture
