// Where decoded rows go. The decoder writes through this interface so it can be tested
// without a database; WriterSink forwards to the real store::Writer.
// Thread-safety: none; the capture pipeline uses a sink from one thread.
#pragma once

#include <span>
#include <string_view>

#include "common/result.h"
#include "store/records.h"

namespace causeway::store {
class Writer;
}

namespace causeway::capture {

class RowSink {
 public:
  virtual ~RowSink() = default;
  virtual store::StringId intern(std::string_view s) = 0;
  virtual store::StackId intern_stack(int32_t pid, std::span<const uint64_t> frames) = 0;
  // Deduplicated Python stack (see store::Writer::intern_py_stack). Sinks that keep no
  // Python stacks return 0 ("none").
  virtual store::StackId intern_py_stack(int32_t /*pid*/,
                                         std::span<const store::PyFrameRow> /*frames*/) {
    return 0;
  }
  virtual Result<store::RowId> add(const store::CudaCallRow& row) = 0;
  virtual Result<store::RowId> add(const store::ThreadStateRow& row) = 0;
  virtual Result<store::RowId> add(const store::WakeupRow& row) = 0;
  // Who held a CPU (see store::CpuSliceRow). Sinks that keep no CPU timeline return 0.
  virtual Result<store::RowId> add(const store::CpuSliceRow& /*row*/) { return store::RowId{0}; }
  virtual Result<store::RowId> add(const store::SyscallRow& row) = 0;
  virtual Result<store::RowId> add(const store::BlockIoRow& row) = 0;
  virtual Result<store::RowId> add(const store::ProcessEventRow& row) = 0;
  virtual Status note_thread(const store::ThreadInfo& info) = 0;
  virtual Status note_process(const store::ProcessInfo& info) = 0;
  virtual Status note_mapping(const store::MappingInfo& info) = 0;
};

// Forwards everything to a store::Writer it does not own.
class WriterSink final : public RowSink {
 public:
  explicit WriterSink(store::Writer& writer) : writer_(writer) {}
  store::StringId intern(std::string_view s) override;
  store::StackId intern_stack(int32_t pid, std::span<const uint64_t> frames) override;
  store::StackId intern_py_stack(int32_t pid, std::span<const store::PyFrameRow> frames) override;
  Result<store::RowId> add(const store::CudaCallRow& row) override;
  Result<store::RowId> add(const store::ThreadStateRow& row) override;
  Result<store::RowId> add(const store::WakeupRow& row) override;
  Result<store::RowId> add(const store::CpuSliceRow& row) override;
  Result<store::RowId> add(const store::SyscallRow& row) override;
  Result<store::RowId> add(const store::BlockIoRow& row) override;
  Result<store::RowId> add(const store::ProcessEventRow& row) override;
  Status note_thread(const store::ThreadInfo& info) override;
  Status note_process(const store::ProcessInfo& info) override;
  Status note_mapping(const store::MappingInfo& info) override;

 private:
  store::Writer& writer_;
};

}  // namespace causeway::capture
