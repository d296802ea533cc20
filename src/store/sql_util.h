// A minimal RAII wrapper over sqlite3_stmt and a few lookups, for the modules that query a
// trace database directly (analyze, export, report). Header-only; callers link SQLite
// through causeway_store.
// Ownership: a Stmt owns its prepared statement; the connection must outlive it.
// Thread-safety: none (one statement, one thread).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace causeway::store::sql {

class Stmt {
 public:
  Stmt() = default;
  Stmt(sqlite3* db, std::string_view text) {
    rc_ = sqlite3_prepare_v2(db, text.data(), static_cast<int>(text.size()), &stmt_, nullptr);
    if (rc_ != SQLITE_OK) error_ = sqlite3_errmsg(db);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  Stmt(Stmt&& o) noexcept : stmt_(o.stmt_), rc_(o.rc_), error_(std::move(o.error_)) {
    o.stmt_ = nullptr;
  }

  bool ok() const { return stmt_ != nullptr; }
  const std::string& error() const { return error_; }
  sqlite3_stmt* get() const { return stmt_; }

  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  void bind(int i, std::string_view v) {
    sqlite3_bind_text(stmt_, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
  }
  void bind_null(int i) { sqlite3_bind_null(stmt_, i); }

  bool is_null(int col) const { return sqlite3_column_type(stmt_, col) == SQLITE_NULL; }
  int64_t i64(int col) const { return sqlite3_column_int64(stmt_, col); }
  std::optional<int64_t> opt_i64(int col) const {
    if (is_null(col)) return std::nullopt;
    return i64(col);
  }
  // The text of column `col` as a view into SQLite's buffer: no copy, valid until the
  // next step() or reset() (for streaming many rows).
  std::string_view text_view(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string_view(reinterpret_cast<const char*>(t),
                                static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string_view();
  }
  std::string text(int col) const {
    const unsigned char* t = sqlite3_column_text(stmt_, col);
    return t ? std::string(reinterpret_cast<const char*>(t),
                           static_cast<size_t>(sqlite3_column_bytes(stmt_, col)))
             : std::string();
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_OK;
  std::string error_;
};

// Whether a table or view named `name` exists in the main schema.
inline bool has_table(sqlite3* db, std::string_view name) {
  Stmt s(db, "SELECT 1 FROM sqlite_master WHERE name = ?1 AND type IN ('table', 'view')");
  if (!s.ok()) return false;
  s.bind(1, name);
  return s.step() == SQLITE_ROW;
}

inline std::optional<std::string> meta(sqlite3* db, std::string_view key) {
  Stmt s(db, "SELECT value FROM meta WHERE key = ?1");
  if (!s.ok()) return std::nullopt;
  s.bind(1, key);
  if (s.step() != SQLITE_ROW || s.is_null(0)) return std::nullopt;
  return s.text(0);
}

// One sentence for a failed query.
inline Status query_error(sqlite3* db, std::string_view what) {
  return Status::Error("Reading " + std::string(what) + " from the trace failed (" +
                       sqlite3_errmsg(db) +
                       "); check the file with `sqlite3 FILE 'PRAGMA "
                       "integrity_check'`.");
}

}  // namespace causeway::store::sql
