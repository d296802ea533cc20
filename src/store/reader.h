// Read-only access to a trace database.
//
// Reader::open validates the file before anyone queries it: it must exist and be readable,
// be a SQLite database, carry causeway's application_id and a schema version this build
// understands. Each failure is one sentence naming the file and what to do.
//
// The connection is opened with SQLITE_OPEN_READONLY and PRAGMA query_only, so nothing done
// through it can change the file. A database still being written (WAL mode) can be read: the
// reader sees the batches committed so far.
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

}  // namespace causeway::store
