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
    default:
      return "unknown";
  }
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
