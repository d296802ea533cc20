// Fuzz target: the ingest stage (capture::Decoder) on arbitrary ring-buffer records. The
// records come from causeway's own BPF programs, but a decoder that trusts their contents
// turns one kernel-side slip (or a new kernel's surprise) into a crash of the recorder, which
// runs as root: it must skip what it cannot use.
//
// Input: a sequence of records, each a little-endian u16 length and that many bytes (the
// last one takes what is left). Each record is copied to an 8-byte-aligned buffer, as the
// ring buffer delivers them, and ingested; finish() closes every interval at the end. Rows go
// to a sink that keeps nothing but hands out ids, as the store does.
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/decoder.h"
#include "capture/row_sink.h"

namespace {

using namespace causeway;

constexpr size_t kMaxRecords = 4096;

class CountingSink final : public capture::RowSink {
 public:
  store::StringId intern(std::string_view) override { return ++next_; }
  store::StackId intern_stack(int32_t, std::span<const uint64_t>) override { return ++next_; }
  Result<store::RowId> add(const store::CudaCallRow&) override { return ++next_; }
  Result<store::RowId> add(const store::ThreadStateRow&) override { return ++next_; }
  Result<store::RowId> add(const store::WakeupRow&) override { return ++next_; }
  Result<store::RowId> add(const store::CpuSliceRow&) override { return ++next_; }
  Result<store::RowId> add(const store::SyscallRow&) override { return ++next_; }
  Result<store::RowId> add(const store::BlockIoRow&) override { return ++next_; }
  Result<store::RowId> add(const store::ProcessEventRow&) override { return ++next_; }
  Status note_thread(const store::ThreadInfo&) override { return Status::Ok(); }
  Status note_process(const store::ProcessInfo&) override { return Status::Ok(); }
  Status note_mapping(const store::MappingInfo&) override { return Status::Ok(); }

 private:
  int64_t next_ = 0;
};

}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  CountingSink sink;
  capture::DecoderOptions opts;
  opts.start_ns = 1000;
  opts.recorded_syscalls = capture::default_syscalls();
  capture::Decoder decoder(sink, capture::CudaFunctionTable::builtin(), opts);
  decoder.traced_from_start(100);
  std::vector<uint64_t> aligned;
  uint64_t last_ts = 0;
  size_t records = 0;
  while (size >= 2 && records++ < kMaxRecords) {
    size_t len = static_cast<size_t>(data[0]) | (static_cast<size_t>(data[1]) << 8);
    data += 2;
    size -= 2;
    len = std::min(len, size);
    aligned.assign((len + 7) / 8, 0);
    if (len) std::memcpy(aligned.data(), data, len);
    data += len;
    size -= len;
    std::span<const uint8_t> rec(reinterpret_cast<const uint8_t*>(aligned.data()), len);
    if (len >= 16) {
      uint64_t ts;
      std::memcpy(&ts, rec.data() + 8, sizeof ts);
      last_ts = std::max(last_ts, ts);
    }
    if (!decoder.ingest(rec).ok()) return 0;
  }
  (void)decoder.finish(static_cast<int64_t>(last_ts & 0x3fffffffffffffffULL) + 1);
  return 0;
}
