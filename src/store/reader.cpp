#include "store/reader.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <vector>

#include "store/read_budget.h"
#include "store/schema.h"
#include "store/sql_util.h"

namespace causeway::store {
namespace {

constexpr char kSqliteMagic[16] = "SQLite format 3";  // 15 chars + NUL, as in the file
constexpr int kBusyTimeoutMs = 5000;

std::string hex32(int32_t v) {
  char buf[16];
  std::snprintf(buf, sizeof buf, "0x%08x", static_cast<uint32_t>(v));
  return buf;
}

// Runs a single-value integer query.
std::optional<int64_t> query_int(sqlite3* db, const char* sql, int* rc_out = nullptr) {
  sqlite3_stmt* stmt = nullptr;
  int rc = sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr);
  std::optional<int64_t> out;
  if (rc == SQLITE_OK) {
    rc = sqlite3_step(stmt);
    if (rc == SQLITE_ROW) {
      out = sqlite3_column_int64(stmt, 0);
      rc = SQLITE_OK;
    }
  }
  sqlite3_finalize(stmt);
  if (rc_out != nullptr) *rc_out = rc;
  return out;
}

}  // namespace

Status check_regular_file(const std::string& path) {
  if (path.empty()) return Status::Error("No trace database path was given.");
  // O_NONBLOCK: opening a FIFO for reading would otherwise wait for a writer forever.
  const int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    const int err = errno;
    if (err == ENOENT) return Status::Error(path + " does not exist; check the --db path.");
    if (err == EISDIR) {
      return Status::Error(path + " is a directory, not a causeway trace database.");
    }
    return Status::Error(path + " cannot be read: " + std::strerror(err) + ".");
  }
  struct stat st {};
  const int rc = fstat(fd, &st);
  ::close(fd);
  if (rc != 0) return Status::Error(path + " cannot be read: " + std::strerror(errno) + ".");
  if (S_ISDIR(st.st_mode)) {
    return Status::Error(path + " is a directory, not a causeway trace database.");
  }
  if (!S_ISREG(st.st_mode)) {
    return Status::Error(path +
                         " is not a regular file (a FIFO, socket or device), so not a causeway "
                         "trace database.");
  }
  return Status::Ok();
}

namespace {

// The progress handler of every trace connection: stops the statement when the calling
// thread's ReadBudget is spent.
int budget_progress(void*) {
  return ReadBudget::spent_on_this_thread() ? 1 : 0;
}

// VM steps between budget checks: about a millisecond of work, so a deadline is honoured
// promptly while the check costs nothing measurable.
constexpr int kBudgetCheckSteps = 10000;

}  // namespace

void harden_trace_connection(sqlite3* db) {
  int ignored = 0;
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &ignored);
  // Views and triggers of the file run only innocuous functions; triggers do not run at all.
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &ignored);
  // Sorts and temporary b-trees stay in memory, where heap limits apply, instead of
  // spilling unbounded temp files into /var/tmp.
  sqlite3_exec(db, "PRAGMA temp_store = MEMORY", nullptr, nullptr, nullptr);
  sqlite3_progress_handler(db, kBudgetCheckSteps, budget_progress, nullptr);
}

Result<sqlite3*> open_trace_connection(const std::string& path, int flags) {
  if (Status st = check_regular_file(path); !st.ok()) return st;
  sqlite3* db = nullptr;
  const int rc = sqlite3_open_v2(path.c_str(), &db, flags, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    return Status::Error(path + " cannot be opened: " + why + ".");
  }
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  harden_trace_connection(db);
  return db;
}

Status check_schema_objects(sqlite3* db) {
  const Schema& s = schema();
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, "SELECT type, name, sql FROM sqlite_schema", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    const std::string why = sqlite3_errmsg(db);
    sqlite3_finalize(stmt);
    return Status::Error("its schema cannot be read (" + why + ").");
  }
  Status out = Status::Ok();
  int rc = SQLITE_DONE;
  auto text = [&](int col) {
    const unsigned char* t = sqlite3_column_text(stmt, col);
    return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
  };
  const std::string tail = " causeway never writes that, so the file was altered; it is not read.";
  while (out.ok() && (rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    const std::string type = text(0), name = text(1), sql = text(2);
    if (type == "trigger") {
      out = Status::Error("it has a trigger (" + name + ");" + tail);
      break;
    }
    bool known_table = false;
    for (const TableDef& t : s.tables) known_table = known_table || t.name == name;
    if (known_table && type != "table") {
      out = Status::Error("its " + name + " is a " + type + ", not a table;" + tail);
      break;
    }
    if (type != "view") continue;
    const ViewDef* ours = nullptr;
    for (const ViewDef& v : s.views) {
      if (v.name == name) ours = &v;
    }
    if (ours == nullptr) {
      out =
          Status::Error("it has a view " + name + " that is not part of the trace schema;" + tail);
    } else if (sql !=
               "CREATE VIEW " + std::string(ours->name) + " AS " + std::string(ours->select_sql)) {
      out = Status::Error("its view " + name + " is not the one causeway defines;" + tail);
    }
  }
  if (out.ok() && rc != SQLITE_DONE) {
    out = Status::Error(std::string("its schema cannot be read (") + sqlite3_errmsg(db) + ").");
  }
  sqlite3_finalize(stmt);
  return out;
}

Status check_event_values(sqlite3* db) {
  const std::string bound = std::to_string(kMaxTraceNs);
  for (const TableDef& t : schema().tables) {
    if (t.name == "causal_chain" || t.name == "analysis_result") continue;  // our results
    std::vector<std::string> cols;
    for (const ColumnDef& c : t.columns) {
      const std::string_view n = c.name;
      const bool time_col =
          n == "ts" || n == "dur" || (n.size() > 3 && (n.ends_with("_ts") || n.ends_with("_dur")));
      if (c.unit != "ns" || !time_col) continue;
      // Files from older builds may lack a column.
      const std::string probe = "SELECT 1 FROM pragma_table_info('" + std::string(t.name) +
                                "') WHERE name = '" + std::string(n) + "'";
      if (query_int(db, probe.c_str()) == 1) cols.emplace_back(n);
    }
    if (cols.empty()) continue;
    // bad(c): not NULL and not a number within ±kMaxTraceNs. TEXT and BLOB sort after every
    // number in SQLite, so one range test catches them too; it costs about a plain scan
    // (typeof() tests cost 2.5 times that on 5 M rows).
    auto bad = [&](const std::string& c) { return c + " NOT BETWEEN -" + bound + " AND " + bound; };
    std::string which = "CASE", where;
    for (const std::string& c : cols) {
      which += " WHEN " + bad(c) + " THEN '" + c + "'";
      where += (where.empty() ? "" : " OR ") + bad(c);
    }
    which += " END";
    std::string value = "CASE";
    for (const std::string& c : cols) {
      value += " WHEN " + bad(c) + " THEN CASE typeof(" + c + ") WHEN 'integer' THEN CAST(" + c +
               " AS TEXT) ELSE typeof(" + c + ") END";
    }
    value += " END";
    const bool rowid = t.table_suffix.find("WITHOUT ROWID") == std::string_view::npos;
    const std::string sql = "SELECT " + which + ", " + value + ", " + (rowid ? "rowid" : "NULL") +
                            " FROM " + std::string(t.name) + " WHERE " + where + " LIMIT 1";
    sqlite3_stmt* stmt = nullptr;
    if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
      const std::string why = sqlite3_errmsg(db);
      sqlite3_finalize(stmt);
      return Status::Error("Reading " + std::string(t.name) + " from the trace failed (" + why +
                           ").");
    }
    const int rc = sqlite3_step(stmt);
    Status st = Status::Ok();
    if (rc == SQLITE_ROW) {
      auto text = [&](int col) {
        const unsigned char* v = sqlite3_column_text(stmt, col);
        return v ? std::string(reinterpret_cast<const char*>(v)) : std::string("?");
      };
      const std::string where_row =
          sqlite3_column_type(stmt, 2) == SQLITE_NULL ? "" : " in row " + text(2);
      const std::string v = text(1);
      const bool is_number = !v.empty() && (v[0] == '-' || (v[0] >= '0' && v[0] <= '9'));
      st = Status::Error(
          std::string(t.name) + "." + text(0) + where_row +
          (is_number ? " is " + v + " ns, outside what a trace can hold (±2^52 ns, about 52 days)"
                     : " holds a " + v + " value where an integer time in ns belongs") +
          "; the file is damaged or was crafted, so it is not analysed.");
    } else if (rc != SQLITE_DONE) {
      st = Status::Error("Reading " + std::string(t.name) + " from the trace failed (" +
                         sqlite3_errmsg(db) + ").");
    }
    sqlite3_finalize(stmt);
    if (!st.ok()) return st;
  }
  return Status::Ok();
}

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  if (Status st = check_regular_file(path); !st.ok()) return st;
  // Look at the raw header first: SQLite would happily "open" any file and only fail later
  // with a vague message, and an empty file would pass as an empty database.
  int fd = ::open(path.c_str(), O_RDONLY | O_NONBLOCK | O_CLOEXEC | O_NOCTTY);
  if (fd < 0) {
    return Status::Error(path + " cannot be read: " + std::strerror(errno) + ".");
  }
  struct stat st {};
  if (fstat(fd, &st) != 0 || !S_ISREG(st.st_mode)) {  // replaced since the check above
    ::close(fd);
    return Status::Error(path + " is not a regular file, so not a causeway trace database.");
  }
  char header[16] = {};
  const ssize_t n = ::read(fd, header, sizeof header);
  ::close(fd);
  if (n < 0) return Status::Error(path + " cannot be read: " + std::strerror(errno) + ".");
  if (n == 0) return Status::Error(path + " is empty; it is not a causeway trace database.");
  if (n < static_cast<ssize_t>(sizeof header) ||
      std::memcmp(header, kSqliteMagic, sizeof header) != 0) {
    return Status::Error(path + " is not a SQLite database, so not a causeway trace.");
  }

  std::unique_ptr<Reader> r(new Reader());
  r->path_ = path;
  auto db = open_trace_connection(path, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX);
  if (!db.ok()) return db.status();
  r->db_ = *db;
  int rc = SQLITE_OK;
  sqlite3_exec(r->db_, "PRAGMA query_only = 1", nullptr, nullptr, nullptr);

  const auto app_id = query_int(r->db_, "PRAGMA application_id", &rc);
  if (!app_id) {
    return Status::Error(path + " cannot be read as a SQLite database: " + sqlite3_errmsg(r->db_) +
                         ".");
  }
  if (*app_id != kApplicationId) {
    return Status::Error(path + " is a SQLite database but not a causeway trace (application_id " +
                         hex32(static_cast<int32_t>(*app_id)) + ").");
  }
  const auto version = query_int(r->db_, "PRAGMA user_version", &rc);
  if (!version || *version < 1) {
    return Status::Error(path + " is a causeway trace of an unknown schema version (" +
                         std::to_string(version.value_or(0)) +
                         "); it cannot be read by this build.");
  }
  if (*version > kSchemaVersion) {
    return Status::Error(path + " was written by a newer causeway (schema " +
                         std::to_string(*version) + ", this build reads up to " +
                         std::to_string(kSchemaVersion) + "); upgrade causeway.");
  }
  if (Status objects = check_schema_objects(r->db_); !objects.ok()) {
    return Status::Error(path + " is not a trace as causeway writes it: " + objects.message());
  }
  r->schema_version_ = static_cast<int>(*version);
  return r;
}

Reader::~Reader() {
  sqlite3_close_v2(db_);
}

sqlite3* Reader::db() const {
  return db_;
}
const std::string& Reader::path() const {
  return path_;
}
int Reader::schema_version() const {
  return schema_version_;
}

std::optional<std::string> Reader::meta(std::string_view key) const {
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db_, "SELECT value FROM meta WHERE key = ?1", -1, &stmt, nullptr) !=
      SQLITE_OK) {
    return std::nullopt;
  }
  sqlite3_bind_text(stmt, 1, key.data(), static_cast<int>(key.size()), SQLITE_STATIC);
  std::optional<std::string> out;
  if (sqlite3_step(stmt) == SQLITE_ROW) {
    const unsigned char* text = sqlite3_column_text(stmt, 0);
    if (text != nullptr) out = reinterpret_cast<const char*>(text);
  }
  sqlite3_finalize(stmt);
  return out;
}

std::optional<int64_t> Reader::meta_int(std::string_view key) const {
  auto v = meta(key);
  if (!v || v->empty()) return std::nullopt;
  char* end = nullptr;
  errno = 0;
  const long long n = std::strtoll(v->c_str(), &end, 10);
  if (errno != 0 || *end != '\0') return std::nullopt;
  return static_cast<int64_t>(n);
}

bool trace_finished(sqlite3* db) {
  return sql::meta(db, "complete") == "1" || sql::meta(db, "finished_by").has_value();
}

bool Reader::finished() const {
  return trace_finished(db_);
}

bool Reader::being_recorded() const {
  // Looked up in /proc/locks rather than by trying flock() on the file: opening and closing
  // another descriptor of the database in this process would release this connection's
  // POSIX (fcntl) locks on it, a well-known SQLite hazard.
  struct stat st {};
  if (stat(path_.c_str(), &st) != 0) return false;
  char want[64];
  std::snprintf(want, sizeof want, "%02x:%02x:%llu", major(st.st_dev), minor(st.st_dev),
                static_cast<unsigned long long>(st.st_ino));
  std::FILE* locks = std::fopen("/proc/locks", "re");
  if (locks == nullptr) return false;
  bool busy = false;
  char line[256];
  while (!busy && std::fgets(line, sizeof line, locks) != nullptr) {
    // "1: FLOCK  ADVISORY  WRITE 1234 fe:00:10953589 0 EOF" (blocked waiters have "->").
    char kind[16] = {}, mode[16] = {}, access[16] = {}, dev_ino[64] = {};
    const char* p = std::strstr(line, "FLOCK");
    if (p == nullptr) continue;
    long pid = 0;
    if (std::sscanf(p, "%15s %15s %15s %ld %63s", kind, mode, access, &pid, dev_ino) == 5 &&
        std::strcmp(access, "WRITE") == 0 && std::strcmp(dev_ino, want) == 0 &&
        std::strstr(line, "->") == nullptr) {
      busy = true;
    }
  }
  std::fclose(locks);
  return busy;
}

std::optional<int64_t> Reader::count_rows(std::string_view table) const {
  for (const TableDef& t : schema().tables) {
    if (t.name == table) {
      const std::string sql = "SELECT count(*) FROM " + std::string(t.name);
      return query_int(db_, sql.c_str());
    }
  }
  return std::nullopt;
}

}  // namespace causeway::store
