// The trace-database writer: batched, prepared-statement inserts into a SQLite file in WAL mode.
//
// Ownership: a Writer owns its sqlite3 connection. Thread-safety: none; one thread (the
// capture pipeline) calls it. Durability: rows are buffered in an open transaction that is
// committed every `commit_interval_ns` of wall time or `batch_rows` rows, whichever comes
// first (checked on each add), so a crash loses at most the last uncommitted batch. An
// interrupted write never corrupts the file (SQLite WAL + journaling).
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
  int64_t origin_ns = 0;              // CLOCK_MONOTONIC ns stored as ts 0 (the trace start)
  int64_t commit_interval_ns = 500'000'000;  // commit at least this often (<= 1 s)
  int64_t batch_rows = 100'000;       // ... or after this many rows
  bool overwrite = false;             // replace an existing file instead of refusing
  // Disk budget: the database file may not grow beyond this many bytes (0 = unlimited).
  // Reaching it fails the add that needed more space, exactly like a full disk.
  int64_t max_db_bytes = 0;
  // Build the query indexes (schema().indexes) in close(). Maintaining them per insert would
  // cost about half the ingest rate; building them once at the end is a sort per index.
  bool index_on_close = true;
};

class Writer {
 public:
  // Creates a new trace database at `path` (refuses an existing file unless overwrite).
  static Result<std::unique_ptr<Writer>> create(const std::string& path, const WriterOptions& opts);
  ~Writer();  // commits what is pending; errors are swallowed (call close() to see them)
  Writer(const Writer&) = delete;
  Writer& operator=(const Writer&) = delete;

  // Interned string id for `s` (stable for the life of the database). Never 0.
  StringId intern(std::string_view s);

  // Deduplicated user stack (innermost frame first, raw addresses) of process `pid`.
  // Returns 0 for an empty stack.
  StackId intern_stack(int32_t pid, std::span<const uint64_t> frames);

  // Event rows. Each returns the row id, or a failed Result when SQLite fails (e.g. disk
  // full); after a failure the writer stays usable for close() and reports the error again.
  Result<RowId> add(const CudaCallRow& row);
  Result<RowId> add(const ThreadStateRow& row);
  Result<RowId> add(const WakeupRow& row);
  Result<RowId> add(const SyscallRow& row);
  Result<RowId> add(const BlockIoRow& row);
  Result<RowId> add(const ProcessEventRow& row);

  // Facts about tasks, processes and mappings; later calls update earlier ones (a comm
  // change, an end time). Unknown pids/tids referenced by event rows are created implicitly.
  // Reuse: once a thread or process has ended (an end_ts_ns here, or a kExit process event;
  // an exit of tid == pid ends the process), a later event or note with the same tid/pid and
  // a later time gets a new utid/upid. Events timestamped before the end still map to the
  // ended one, so late-arriving events of an exited thread are attributed correctly.
  Status note_thread(const ThreadInfo& info);
  Status note_process(const ProcessInfo& info);
  Status note_mapping(const MappingInfo& info);

  // meta table: key -> value (text). Later calls replace the value.
  Status set_meta(std::string_view key, std::string_view value);

  // Commits the open batch if commit_interval_ns has passed since the last commit. The capture
  // loop calls it when idle, so a quiet trace still commits at least every interval.
  Status commit_if_due();

  // Commits the open batch now.
  Status flush();
  // Flushes, writes end-of-trace bookkeeping, checkpoints the WAL and closes the file.
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

}  // namespace causeway::store
