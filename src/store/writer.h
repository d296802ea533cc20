// The trace-database writer: batched, prepared-statement inserts into a SQLite file in WAL mode.
//
// Ownership: a Writer owns its sqlite3 connection. Thread-safety: none; one thread (the
// capture pipeline) calls it. Durability: rows are buffered in an open transaction that is
// committed every `commit_interval_ns` of wall time or `batch_rows` rows, whichever comes
// first (checked on each add, and by commit_if_due() when idle), so a crash loses at most the
// last uncommitted batch. An interrupted write never corrupts the file (SQLite WAL). close()
// builds the indexes, marks the trace complete (meta 'complete' = 1) and turns the file back
// into a single self-contained file (rollback journal), so it can be copied as one file.
//
// Per-event cost: add() resolves pid/tid to utid/upid through hash maps and stages the row;
// rows of the hot tables are written 32 at a time through multi-row INSERTs (see
// docs/performance.md: >= 1M events/s on one core). Errors of a staged write surface on the
// add() or flush() that performs it.
//
// Timestamps: rows carry absolute CLOCK_MONOTONIC ns; the file stores ts - origin_ns.
//
// While open, the Writer holds an flock(LOCK_EX) on the file, released by close() or by the
// kernel if the process dies: Reader::being_recorded() tells a live trace from an interrupted
// one, and neither overwrite nor finish_interrupted_trace() touches a live trace.
#pragma once

#include <cstdint>
#include <memory>
#include <span>
#include <string>
#include <string_view>

#include "common/result.h"
#include "store/records.h"

namespace causeway::store {

struct WriterOptions {
  int64_t origin_ns = 0;                     // CLOCK_MONOTONIC ns stored as ts 0 (the trace start)
  int64_t commit_interval_ns = 500'000'000;  // commit at least this often (<= 1 s)
  int64_t batch_rows = 100'000;              // ... or after this many rows
  bool overwrite = false;                    // replace an existing file instead of refusing
  // Disk budget: the database file may not grow beyond this many bytes (0 = unlimited).
  // Reaching it fails the add that needed more space, exactly like a full disk.
  int64_t max_db_bytes = 0;
  // Build the query indexes (schema().indexes) in close(). Maintaining them per insert slows
  // every insert; building them once at the end costs one sort per index (measured in
  // docs/performance.md). A trace whose recorder was killed keeps every committed batch but
  // has no indexes until finish_interrupted_trace() builds them.
  bool index_on_close = true;
  // SQLite page size in bytes (a power of two, 512..65536). 16 KiB: see docs/performance.md.
  int page_size = 16384;
};

class Writer {
 public:
  // Creates a new trace database at `path` (refuses an existing file unless overwrite).
  static Result<std::unique_ptr<Writer>> create(const std::string& path, const WriterOptions& opts);
  // Errors are one sentence each: the file exists (and !overwrite), is a directory, or its
  // directory is missing / not writable (the errno text says which).
  ~Writer();  // close()s if still open; errors are swallowed (call close() to see them)
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Interned string id for `s` (stable for the life of the database). Never 0.
  StringId intern(std::string_view s);

  // Deduplicated user stack (innermost frame first, raw addresses) of process `pid`.
  // Returns 0 for an empty stack.
  StackId intern_stack(int32_t pid, std::span<const uint64_t> frames);

  // Deduplicated Python stack (innermost frame first) of process `pid`: rows of python_stack
  // and python_frame. Returns 0 for an empty stack.
  StackId intern_py_stack(int32_t pid, std::span<const PyFrameRow> frames);

  // Event rows. Each returns the row id (the `id` column of its table), or a failed Result
  // when SQLite fails (e.g. disk full: the sentence says so). After a failure nothing more is
  // written; every later call reports the same error, and close() still leaves a valid file
  // holding every batch committed before the failure.
  Result<RowId> add(const CudaCallRow& row);
  Result<RowId> add(const ThreadStateRow& row);
  Result<RowId> add(const WakeupRow& row);
  Result<RowId> add(const CpuSliceRow& row);
  Result<RowId> add(const SyscallRow& row);
  Result<RowId> add(const BlockIoRow& row);
  Result<RowId> add(const ProcessEventRow& row);

  // Facts about tasks, processes and mappings; later calls update earlier ones (a comm
  // change, an end time). Unknown pids/tids referenced by event rows are created implicitly.
  // Reuse: once a thread or process has ended (an end_ts_ns here, or a kExit process event,
  // which ends the process and the thread it names), a later event or note with the same
  // tid/pid and a later time gets a new utid/upid. Events timestamped before the end still
  // map to the ended one, so late-arriving events of an exited thread are attributed
  // correctly.
  Status note_thread(const ThreadInfo& info);
  Status note_process(const ProcessInfo& info);
  Status note_mapping(const MappingInfo& info);

  // meta table: key -> value (text). Later calls replace the value.
  Status set_meta(std::string_view key, std::string_view value);
  // syscall_name table: the name of syscall `nr` (capture fills in the whole table at start,
  // so SQL can join by name). The first name given for a number wins.
  Status note_syscall_name(int32_t nr, std::string_view name);

  // Commits the open batch if commit_interval_ns has passed since the last commit. The capture
  // loop calls it when idle, so a quiet trace still commits at least every interval.
  Status commit_if_due();

  // Commits the open batch now.
  Status flush();
  // Flushes, builds the indexes, writes end-of-trace meta (end_ts, complete, indexed),
  // checkpoints the WAL into the main file and closes it. Idempotent; returns the first error
  // seen during the writer's life, if any.
  Status close();

  // Rows added so far (all tables).
  int64_t rows_written() const;
  // Transactions committed so far (for tests and the status line).
  int64_t commits() const;
  // Path of the database file.
  const std::string& path() const;

 private:
  struct Impl;
  explicit Writer(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

// Finishes a trace whose recording was interrupted (killed tracer, power loss): folds the WAL
// into the main file and builds the missing indexes, so it opens fast and copies as one file.
// Rows are untouched; meta 'complete' stays 0 (the recording did not end cleanly) and
// 'indexed' becomes 1. Refuses files that Reader would refuse and traces still being recorded
// (the writer holds an flock on the file while recording), one sentence each.
Status finish_interrupted_trace(const std::string& path);

}  // namespace causeway::store
