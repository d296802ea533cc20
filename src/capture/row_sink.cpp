#include "capture/row_sink.h"

#include "store/writer.h"

namespace causeway::capture {

store::StringId WriterSink::intern(std::string_view s) {
  return writer_.intern(s);
}
store::StackId WriterSink::intern_stack(int32_t pid, std::span<const uint64_t> frames) {
  return writer_.intern_stack(pid, frames);
}
store::StackId WriterSink::intern_py_stack(int32_t pid, std::span<const store::PyFrameRow> frames) {
  return writer_.intern_py_stack(pid, frames);
}
Result<store::RowId> WriterSink::add(const store::CudaCallRow& row) {
  return writer_.add(row);
}
Result<store::RowId> WriterSink::add(const store::ThreadStateRow& row) {
  return writer_.add(row);
}
Result<store::RowId> WriterSink::add(const store::WakeupRow& row) {
  return writer_.add(row);
}

Result<store::RowId> WriterSink::add(const store::CpuSliceRow& row) {
  return writer_.add(row);
}
Result<store::RowId> WriterSink::add(const store::SyscallRow& row) {
  return writer_.add(row);
}
Result<store::RowId> WriterSink::add(const store::BlockIoRow& row) {
  return writer_.add(row);
}
Result<store::RowId> WriterSink::add(const store::ProcessEventRow& row) {
  return writer_.add(row);
}
Status WriterSink::note_thread(const store::ThreadInfo& info) {
  return writer_.note_thread(info);
}
Status WriterSink::note_process(const store::ProcessInfo& info) {
  return writer_.note_process(info);
}
Status WriterSink::note_mapping(const store::MappingInfo& info) {
  return writer_.note_mapping(info);
}

}  // namespace causeway::capture
