// Internal to src/report: a minimal RAII wrapper over sqlite3_stmt.
// Thread-safety: none (one statement, one thread).
#pragma once

#include <sqlite3.h>

#include <cstdint>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"

namespace causeway::report {

class Stmt {
 public:
  Stmt(sqlite3* db, std::string_view sql) : db_(db) {
    sqlite3_prepare_v2(db, sql.data(), static_cast<int>(sql.size()), &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;

  bool ok() const { return stmt_ != nullptr; }
  // SQLITE_ROW, SQLITE_DONE or an error code.
  int step() { return sqlite3_step(stmt_); }
  void reset() {
    sqlite3_reset(stmt_);
    sqlite3_clear_bindings(stmt_);
  }
  void bind(int i, int64_t v) { sqlite3_bind_int64(stmt_, i, v); }
  bool null(int c) const { return sqlite3_column_type(stmt_, c) == SQLITE_NULL; }
  int64_t i64(int c) const { return sqlite3_column_int64(stmt_, c); }
  std::optional<int64_t> opt(int c) const {
    return null(c) ? std::nullopt : std::optional<int64_t>(i64(c));
  }
  std::string text(int c) const {
    const auto* p = reinterpret_cast<const char*>(sqlite3_column_text(stmt_, c));
    return p ? std::string(p, static_cast<size_t>(sqlite3_column_bytes(stmt_, c))) : std::string();
  }
  // One sentence naming what could not be read.
  Status error(std::string_view what) const {
    return Status::Error("reading the " + std::string(what) +
                         " from the trace failed: " + sqlite3_errmsg(db_) + ".");
  }

 private:
  sqlite3* db_;
  sqlite3_stmt* stmt_ = nullptr;
};

}  // namespace causeway::report
