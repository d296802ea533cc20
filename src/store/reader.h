// Read-only access to a trace database.
//
// A trace file is untrusted input (attached to a bug report, downloaded from a cluster; see
// docs/security.md). Reader::open validates the file before anyone queries it: it must be a
// regular file (a FIFO or device is refused without blocking), be a SQLite database, carry
// causeway's application_id and a schema version this build understands, and its schema
// objects must be causeway's: every table the schema defines is a table (not a view), every
// view is causeway's own definition, and there are no triggers. Each failure is one sentence
// naming the file and what to do.
//
// The connection is opened with SQLITE_OPEN_READONLY and PRAGMA query_only, so nothing done
// through it can change the file; it is hardened like every trace connection (see
// open_trace_connection). A database still being written (WAL mode) can be read: the reader
// sees the batches committed so far.
//
// Ownership: a Reader owns its sqlite3 connection; db() stays valid for the Reader's life.
// Thread-safety: the connection is opened in SQLite's serialized mode, so db() may be used
// from several threads; the helpers are const and safe to call concurrently.
#pragma once

#include <cstdint>
#include <memory>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

struct sqlite3;

namespace causeway::store {

class Reader {
 public:
  static Result<std::unique_ptr<Reader>> open(const std::string& path);
  ~Reader();
  Reader(const Reader&) = delete;
  Reader& operator=(const Reader&) = delete;

  // The read-only connection, for queries. Owned by the Reader.
  sqlite3* db() const;
  const std::string& path() const;
  // PRAGMA user_version of the file (<= kSchemaVersion).
  int schema_version() const;

  // meta table lookups; nullopt when the key is absent (or, for meta_int, not an integer).
  std::optional<std::string> meta(std::string_view key) const;
  std::optional<int64_t> meta_int(std::string_view key) const;

  // Whether a Writer (in any process) is recording into this file right now. A trace with
  // meta 'complete' = 0 that is not being recorded was interrupted (see
  // finish_interrupted_trace in store/writer.h).
  bool being_recorded() const;

  // trace_finished() on this file.
  bool finished() const;

  // Number of rows in `table` (a name from schema()); nullopt for an unknown table.
  std::optional<int64_t> count_rows(std::string_view table) const;

 private:
  Reader() = default;
  sqlite3* db_ = nullptr;
  std::string path_;
  int schema_version_ = 0;
};

// Whether the trace open on `db` is finished: recorded to the end (meta 'complete' = '1'), or
// interrupted and then completed by `causeway finish` (meta 'finished_by' is set). Only a
// finished trace has all its indexes, and only into one may analysis results be stored; an
// unfinished one is still being recorded or was left by a killed recorder.
// Thread-safety: as the connection `db`.
bool trace_finished(sqlite3* db);

// Fails with one sentence unless `path` names a regular file. Opens it with O_NONBLOCK and
// checks with fstat, so a FIFO or a device neither blocks nor is read.
Status check_regular_file(const std::string& path);

// Opens another connection to the trace at `path` (flags: SQLITE_OPEN_READONLY or
// SQLITE_OPEN_READWRITE, plus a mutex flag) for modules that need their own (bulk scans,
// storing results), hardened against what the file may bring: no triggers fire, the schema
// is untrusted (only innocuous functions in views), defensive mode, no extension loading,
// temporary storage in memory (so heap limits cover sorts), and the calling thread's
// ReadBudget (store/read_budget.h) stops its statements. The file must be a regular file.
// The caller owns the returned connection (sqlite3_close_v2).
Result<sqlite3*> open_trace_connection(const std::string& path, int flags);

// The hardening of open_trace_connection, for a connection opened elsewhere.
void harden_trace_connection(sqlite3* db);

// Fails with one sentence unless the schema objects of `db` are causeway's: the tables the
// schema defines are tables, the views are causeway's own definitions, there are no triggers.
// Extra tables and indexes are allowed. Checked by Reader::open and before results are stored.
// The sentence starts in lower case ("it has a trigger …") to follow "FILE is not …: ".
Status check_schema_objects(sqlite3* db);

// Time columns (ts, dur, *_ts, *_dur in ns) of every table must hold NULL or numbers within
// ±kMaxTraceNs (not TEXT or BLOB), so arithmetic on them cannot overflow. One scan of each table;
// the modules that read every event (analysis, statistics, report, export) call it first. Fails
// with one sentence naming the table, column and row.
inline constexpr int64_t kMaxTraceNs = int64_t{1} << 52;  // about 52 days
Status check_event_values(sqlite3* db);

}  // namespace causeway::store
