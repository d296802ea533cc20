#include "store/reader.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <sys/sysmacros.h>
#include <unistd.h>

#include <cerrno>
#include <cstdio>
#include <cstring>

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

Result<std::unique_ptr<Reader>> Reader::open(const std::string& path) {
  if (path.empty()) return Status::Error("No trace database path was given.");
  struct stat st {};
  if (stat(path.c_str(), &st) != 0) {
    const int err = errno;
    if (err == ENOENT) return Status::Error(path + " does not exist; check the --db path.");
    return Status::Error(path + " cannot be read: " + std::strerror(err) + ".");
  }
  if (S_ISDIR(st.st_mode)) {
    return Status::Error(path + " is a directory, not a causeway trace database.");
  }
  // Look at the raw header first: SQLite would happily "open" any file and only fail later
  // with a vague message, and an empty file would pass as an empty database.
  int fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (fd < 0) {
    return Status::Error(path + " cannot be read: " + std::strerror(errno) + ".");
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
  int rc =
      sqlite3_open_v2(path.c_str(), &r->db_, SQLITE_OPEN_READONLY | SQLITE_OPEN_FULLMUTEX, nullptr);
  if (rc != SQLITE_OK) {
    std::string why = r->db_ != nullptr ? sqlite3_errmsg(r->db_) : sqlite3_errstr(rc);
    return Status::Error(path + " cannot be opened: " + why + ".");
  }
  sqlite3_busy_timeout(r->db_, kBusyTimeoutMs);
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
