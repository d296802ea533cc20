#include "mcp/trace_db.h"

#include <sqlite3.h>

#include "store/reader.h"

#include <algorithm>
#include <array>
#include <cctype>
#include <chrono>
#include <cstring>
#include <map>
#include <string>
#include <utility>
#include <vector>

namespace causeway::mcp {
namespace {

// PRAGMAs that only describe the schema or the engine; each is safe with any argument.
constexpr std::array<const char*, 13> kReadOnlyPragmas = {
    "table_info",  "table_xinfo",      "table_list",     "index_list",    "index_info",
    "index_xinfo", "foreign_key_list", "collation_list", "function_list", "module_list",
    "pragma_list", "compile_options",  "database_list"};

// Functions refused even if some build of SQLite provides them: they reach the file system
// or load code.
constexpr std::array<const char*, 7> kDeniedFunctions = {
    "load_extension", "readfile",       "writefile",       "edit",
    "fts3_tokenizer", "sqlar_compress", "sqlar_uncompress"};

// Bounds of the pairwise string functions (FunctionGuard::call_pairwise), in byte pairs: each
// keeps one call well under a second.
constexpr int64_t kMaxTrimWork = 10'000'000;
constexpr int64_t kMaxSearchWork = 2'000'000'000;

bool equals_nocase(const char* a, const char* b) {
  return a && b && sqlite3_stricmp(a, b) == 0;
}

struct AuthState {
  std::string denied;  // the first refused action of the statement being prepared
  // The refused action was a write to the schema table itself: SQLite checks that before the
  // DDL action (DROP TABLE first asks to DELETE from sqlite_master), so the statement's own
  // keywords name it better.
  bool schema_row = false;
};

bool is_schema_table(const char* name) {
  for (const char* t :
       {"sqlite_master", "sqlite_temp_master", "sqlite_schema", "sqlite_temp_schema"}) {
    if (sqlite3_stricmp(name ? name : "", t) == 0) return true;
  }
  return false;
}

// The statement's leading keywords in upper case ("DROP TABLE", "CREATE TEMP VIEW",
// "UPDATE"), skipping whitespace and comments; "" when it starts with something else.
std::string leading_keywords(const std::string& sql) {
  std::vector<std::string> words;
  size_t i = 0;
  while (i < sql.size() && words.size() < 3) {
    const char c = sql[i];
    if (std::isspace(static_cast<unsigned char>(c))) {
      ++i;
    } else if (sql.compare(i, 2, "--") == 0) {
      while (i < sql.size() && sql[i] != '\n') ++i;
    } else if (sql.compare(i, 2, "/*") == 0) {
      size_t end = sql.find("*/", i + 2);
      i = end == std::string::npos ? sql.size() : end + 2;
    } else if (std::isalpha(static_cast<unsigned char>(c))) {
      std::string w;
      while (i < sql.size() && std::isalpha(static_cast<unsigned char>(sql[i]))) {
        w.push_back(static_cast<char>(std::toupper(static_cast<unsigned char>(sql[i++]))));
      }
      words.push_back(w);
      // One word names DML; DDL takes its object (and a TEMP/UNIQUE/VIRTUAL qualifier).
      if (words.size() == 1 && w != "CREATE" && w != "DROP" && w != "ALTER") break;
      if (words.size() == 2 && w != "TEMP" && w != "TEMPORARY" && w != "UNIQUE" && w != "VIRTUAL") {
        break;
      }
    } else {
      break;
    }
  }
  std::string out;
  for (const auto& w : words) out += (out.empty() ? "" : " ") + w;
  return out;
}

// The eponymous virtual tables json_each and json_tree are read-only, but the first use on a
// connection declares their schema, which reaches the authorizer as UPDATEs of
// sqlite_master. Using them once without the authorizer declares them for good.
void declare_json_tables(sqlite3* db) {
  sqlite3_exec(db, "SELECT 1 FROM json_each('[]'); SELECT 1 FROM json_tree('[]')", nullptr, nullptr,
               nullptr);
}

const char* action_name(int action) {
  switch (action) {
    case SQLITE_INSERT:
      return "INSERT";
    case SQLITE_UPDATE:
      return "UPDATE";
    case SQLITE_DELETE:
      return "DELETE";
    case SQLITE_ATTACH:
      return "ATTACH";
    case SQLITE_DETACH:
      return "DETACH";
    case SQLITE_TRANSACTION:
      return "transaction control";
    case SQLITE_SAVEPOINT:
      return "SAVEPOINT";
    case SQLITE_ANALYZE:
      return "ANALYZE";
    case SQLITE_REINDEX:
      return "REINDEX";
    case SQLITE_ALTER_TABLE:
      return "ALTER TABLE";
    case SQLITE_CREATE_VTABLE:
      return "CREATE VIRTUAL TABLE";
    case SQLITE_DROP_VTABLE:
      return "DROP VIRTUAL TABLE";
    case SQLITE_CREATE_TEMP_TABLE:
    case SQLITE_CREATE_TEMP_INDEX:
    case SQLITE_CREATE_TEMP_TRIGGER:
    case SQLITE_CREATE_TEMP_VIEW:
      return "CREATE TEMP";
    case SQLITE_CREATE_TABLE:
    case SQLITE_CREATE_INDEX:
    case SQLITE_CREATE_TRIGGER:
    case SQLITE_CREATE_VIEW:
      return "CREATE";
    case SQLITE_DROP_TABLE:
    case SQLITE_DROP_INDEX:
    case SQLITE_DROP_TRIGGER:
    case SQLITE_DROP_VIEW:
    case SQLITE_DROP_TEMP_TABLE:
    case SQLITE_DROP_TEMP_INDEX:
    case SQLITE_DROP_TEMP_TRIGGER:
    case SQLITE_DROP_TEMP_VIEW:
      return "DROP";
    case SQLITE_PRAGMA:
      return "PRAGMA";
    case SQLITE_FUNCTION:
      return "function";
    default:
      return "statement";
  }
}

int authorizer(void* user, int action, const char* arg1, const char* arg2, const char*,
               const char*) {
  int verdict = authorize_action(action, arg1, arg2);
  if (verdict != SQLITE_OK) {
    auto* state = static_cast<AuthState*>(user);
    if (state->denied.empty()) {
      state->schema_row =
          (action == SQLITE_INSERT || action == SQLITE_UPDATE || action == SQLITE_DELETE) &&
          is_schema_table(arg1);
      state->denied = action_name(action);
      // PRAGMA names arrive in arg1, function names in arg2.
      const char* what = action == SQLITE_PRAGMA     ? arg1
                         : action == SQLITE_FUNCTION ? arg2
                                                     : nullptr;
      if (what) state->denied += std::string(" ") + what;
    }
  }
  return verdict;
}

struct ProgressState {
  std::chrono::steady_clock::time_point start;
  std::chrono::steady_clock::time_point deadline;
  std::chrono::steady_clock::time_point next_report;
  const QueryControl* control = nullptr;
  bool timed_out = false;
  bool cancelled = false;
};

int progress(void* user) {
  auto* st = static_cast<ProgressState*>(user);
  if (!st) return 0;  // no query under way (handler left installed between queries)
  auto now = std::chrono::steady_clock::now();
  if (now >= st->deadline) {
    st->timed_out = true;
    return 1;
  }
  if (st->control && st->control->cancelled && st->control->cancelled()) {
    st->cancelled = true;
    return 1;
  }
  if (st->control && st->control->on_progress && now >= st->next_report) {
    st->next_report = now + std::chrono::milliseconds(st->control->progress_interval_ms);
    st->control->on_progress(
        std::chrono::duration_cast<std::chrono::milliseconds>(now - st->start).count());
  }
  return 0;
}

// True when `tail` holds only whitespace, ';' and comments (what may follow the one
// statement a call is allowed to contain).
bool only_trivia(const char* tail) {
  const char* p = tail;
  while (*p) {
    if (std::isspace(static_cast<unsigned char>(*p)) || *p == ';') {
      ++p;
    } else if (p[0] == '-' && p[1] == '-') {
      while (*p && *p != '\n') ++p;
    } else if (p[0] == '/' && p[1] == '*') {
      const char* end = std::strstr(p + 2, "*/");
      if (!end) return true;  // an unterminated comment runs to the end: nothing follows
      p = end + 2;
    } else {
      return false;
    }
  }
  return true;
}

Json column_value(sqlite3_stmt* stmt, int i, int64_t& bytes) {
  switch (sqlite3_column_type(stmt, i)) {
    case SQLITE_INTEGER:
      bytes += 8;
      return sqlite3_column_int64(stmt, i);
    case SQLITE_FLOAT:
      bytes += 8;
      return sqlite3_column_double(stmt, i);
    case SQLITE_TEXT: {
      const auto* t = reinterpret_cast<const char*>(sqlite3_column_text(stmt, i));
      int n = sqlite3_column_bytes(stmt, i);
      bytes += n;
      return std::string(t ? t : "", static_cast<size_t>(n));
    }
    case SQLITE_BLOB: {
      // Blobs are shown as hex, capped: an agent needs to see that a value is binary and
      // how big it is, not megabytes of hex.
      const auto* b = static_cast<const unsigned char*>(sqlite3_column_blob(stmt, i));
      int n = sqlite3_column_bytes(stmt, i);
      static const char kHex[] = "0123456789abcdef";
      std::string out = "x'";
      int shown = std::min(n, 64);
      for (int k = 0; k < shown; ++k) {
        out.push_back(kHex[b[k] >> 4]);
        out.push_back(kHex[b[k] & 15]);
      }
      out += "'";
      if (shown < n) out += "…(" + std::to_string(n) + " bytes)";
      bytes += static_cast<int64_t>(out.size());
      return out;
    }
    default:
      bytes += 4;
      return nullptr;
  }
}

}  // namespace

// printf()/format() and the string functions whose cost grows with the product of their
// arguments' lengths, behind a guard (see trace_db.h, point 5). Owned by the TraceDb; used on
// the querying thread only. A guarded call is checked, then evaluated by SQLite's own built-in
// on a private in-memory connection, so results are exactly SQLite's.
struct TraceDb::FunctionGuard {
  sqlite3* calc = nullptr;  // in-memory, no schema: only evaluates built-ins
  int64_t max_len = 0;
  std::map<std::pair<std::string, int>, sqlite3_stmt*> statements;  // "SELECT f(?, …)"

  ~FunctionGuard() {
    for (auto& [key, s] : statements) sqlite3_finalize(s);
    if (calc) sqlite3_close_v2(calc);
  }

  sqlite3_stmt* statement(const std::string& name, int argc) {
    sqlite3_stmt*& s = statements[{name, argc}];
    if (!s) {
      std::string sql = "SELECT " + name + "(";
      for (int i = 0; i < argc; ++i) sql += i ? ",?" : "?";
      sql += ")";
      if (sqlite3_prepare_v2(calc, sql.c_str(), -1, &s, nullptr) != SQLITE_OK) s = nullptr;
    }
    return s;
  }

  // Evaluates the built-in `name` on the private connection and returns its result.
  void delegate(sqlite3_context* ctx, const std::string& name, int argc, sqlite3_value** argv) {
    sqlite3_stmt* s = statement(name, argc);
    if (!s) return sqlite3_result_error(ctx, (name + " is unavailable").c_str(), -1);
    for (int i = 0; i < argc; ++i) sqlite3_bind_value(s, i + 1, argv[i]);
    int rc = sqlite3_step(s);
    if (rc == SQLITE_ROW) {
      sqlite3_result_value(ctx, sqlite3_column_value(s, 0));
    } else if (rc == SQLITE_TOOBIG) {
      sqlite3_result_error_toobig(ctx);
    } else {
      sqlite3_result_error(ctx, sqlite3_errmsg(calc), -1);
    }
    sqlite3_reset(s);
    sqlite3_clear_bindings(s);
  }

  // Whether the widths and precisions printf would use are all within ±max_len. Mirrors the
  // format parser of SQLite 3.40 (sqlite3_str_vappendf with an SQL argument list): "*" takes
  // the next argument as an int, "%n" and "%%" take none, an unknown conversion ends the
  // formatting. SQLite's "%.*c" repeats a character `precision` times inside one call, where
  // no progress handler runs; a negative precision counts as its absolute value.
  bool printf_sizes_ok(const char* fmt, int argc, sqlite3_value** argv) const {
    int next_arg = 1;
    auto star = [&]() -> int64_t {
      const int v = next_arg < argc ? static_cast<int>(sqlite3_value_int64(argv[next_arg])) : 0;
      ++next_arg;
      return v;
    };
    auto within = [&](int64_t v) { return v <= max_len && v >= -max_len; };
    for (const char* p = fmt; *p; ++p) {
      if (*p != '%') continue;
      char c = *++p;
      if (c == 0) break;
      bool done = false;
      do {
        switch (c) {
          case '-':
          case '+':
          case ' ':
          case '#':
          case '!':
          case '0':
          case ',':
            break;
          case 'l':
            c = *++p;
            if (c == 'l') c = *++p;
            done = true;
            break;
          case '1':
          case '2':
          case '3':
          case '4':
          case '5':
          case '6':
          case '7':
          case '8':
          case '9': {
            uint32_t wx = static_cast<uint32_t>(c - '0');
            while ((c = *++p) >= '0' && c <= '9') wx = wx * 10 + static_cast<uint32_t>(c - '0');
            if (!within(wx & 0x7fffffff)) return false;
            if (c != '.' && c != 'l') {
              done = true;
            } else {
              --p;
            }
            break;
          }
          case '*':
            if (!within(star())) return false;
            if ((c = p[1]) != '.' && c != 'l') {
              c = *++p;
              done = true;
            }
            break;
          case '.':
            c = *++p;
            if (c == '*') {
              if (!within(star())) return false;
              c = *++p;
            } else {
              uint32_t px = 0;
              while (c >= '0' && c <= '9') {
                px = px * 10 + static_cast<uint32_t>(c - '0');
                c = *++p;
              }
              if (!within(px & 0x7fffffff)) return false;
            }
            if (c == 'l') {
              --p;
            } else {
              done = true;
            }
            break;
          default:
            done = true;
            break;
        }
      } while (!done && (c = *++p) != 0);
      if (c == 0) break;
      if (c == '%' || c == 'n') continue;                 // consume no argument
      if (!std::strchr("dsgzqQwcouxXfeEGipr", c)) break;  // SQLite stops formatting here
      ++next_arg;
    }
    return true;
  }

  static void call_printf(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    auto* self = static_cast<FunctionGuard*>(sqlite3_user_data(ctx));
    if (argc < 1) return sqlite3_result_null(ctx);
    const auto* fmt = reinterpret_cast<const char*>(sqlite3_value_text(argv[0]));
    if (!fmt) return sqlite3_result_null(ctx);
    if (!self->printf_sizes_ok(fmt, argc, argv)) return sqlite3_result_error_toobig(ctx);
    self->delegate(ctx, "printf", argc, argv);
  }

  // Functions whose work in one call is the product of two argument lengths (SQLite 3.40):
  // ltrim/rtrim/trim(X, Y) compare each character stripped from X with every character of
  // Y (1 MB by 83 KB ran 238 s), replace(X, Y, Z) and instr(X, Y) compare Y at every position
  // of X. like/glob are bounded by the LIKE pattern length limit instead.
  static constexpr const char* kPairwise[] = {"ltrim", "rtrim", "trim", "replace", "instr"};
  template <int kIndex>
  static void call_pairwise(sqlite3_context* ctx, int argc, sqlite3_value** argv) {
    auto* self = static_cast<FunctionGuard*>(sqlite3_user_data(ctx));
    const int64_t x = sqlite3_value_bytes(argv[0]), y = sqlite3_value_bytes(argv[1]);
    const int64_t limit = kIndex < 3 ? kMaxTrimWork : kMaxSearchWork;
    if (x * y > limit) {
      const std::string msg = std::string(kPairwise[kIndex]) + " is refused on a " +
                              std::to_string(x) + "-byte string with a " + std::to_string(y) +
                              "-byte second argument: one call would compare every pair (over " +
                              std::to_string(limit) + "); shorten one of them";
      return sqlite3_result_error(ctx, msg.c_str(), -1);
    }
    self->delegate(ctx, kPairwise[kIndex], argc, argv);
  }
};

TraceDb::TraceDb(sqlite3* db, std::string path, std::unique_ptr<FunctionGuard> guard)
    : db_(db), path_(std::move(path)), function_guard_(std::move(guard)) {}

int authorize_action(int action, const char* arg1, const char* arg2) {
  switch (action) {
    case SQLITE_SELECT:
    case SQLITE_READ:
    case SQLITE_RECURSIVE:  // bounded by the time limit and the row/byte/heap caps
      return SQLITE_OK;
    case SQLITE_FUNCTION:
      for (const char* f : kDeniedFunctions) {
        if (equals_nocase(arg2, f)) return SQLITE_DENY;
      }
      return SQLITE_OK;
    case SQLITE_PRAGMA:
      for (const char* p : kReadOnlyPragmas) {
        if (equals_nocase(arg1, p)) return SQLITE_OK;
      }
      return SQLITE_DENY;
    default:
      return SQLITE_DENY;
  }
}

TraceDb::~TraceDb() {
  if (db_) sqlite3_close_v2(db_);
  function_guard_.reset();
}

Result<std::unique_ptr<TraceDb>> TraceDb::open(const std::string& path,
                                               const EngineLimits& limits) {
  if (path.empty()) return Status::Error("No trace database given; pass --db FILE.");
  // The store's Reader is the one authority on "is this a causeway trace we can read"; its
  // connection is closed again because this one needs the hardening below.
  {
    auto reader = store::Reader::open(path);
    if (!reader.ok()) return reader.status();
  }
  sqlite3* db = nullptr;
  // No SQLITE_OPEN_URI: a path like "x.db?mode=rw" is a file name, never an option string.
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX, nullptr);
  auto fail = [&](std::string why) -> Result<std::unique_ptr<TraceDb>> {
    if (db) sqlite3_close_v2(db);
    return Status::Error(std::move(why));
  };
  if (rc != SQLITE_OK) {
    return fail("Cannot open trace database " + path + ": " +
                (db ? sqlite3_errmsg(db) : sqlite3_errstr(rc)) + ".");
  }
  sqlite3_soft_heap_limit64(limits.soft_heap_bytes);
  sqlite3_hard_heap_limit64(limits.hard_heap_bytes);
  int ignored = 0;
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_LOAD_EXTENSION, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DEFENSIVE, 1, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_TRUSTED_SCHEMA, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_ENABLE_TRIGGER, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DML, 0, &ignored);
  sqlite3_db_config(db, SQLITE_DBCONFIG_DQS_DDL, 0, &ignored);
  sqlite3_limit(db, SQLITE_LIMIT_LENGTH, limits.max_value_bytes);
  sqlite3_limit(db, SQLITE_LIMIT_SQL_LENGTH, limits.max_sql_bytes);
  sqlite3_limit(db, SQLITE_LIMIT_COLUMN, limits.max_columns);
  sqlite3_limit(db, SQLITE_LIMIT_EXPR_DEPTH, limits.max_expr_depth);
  sqlite3_limit(db, SQLITE_LIMIT_COMPOUND_SELECT, limits.max_compound_select);
  sqlite3_limit(db, SQLITE_LIMIT_FUNCTION_ARG, limits.max_function_args);
  sqlite3_limit(db, SQLITE_LIMIT_ATTACHED, 0);
  sqlite3_limit(db, SQLITE_LIMIT_LIKE_PATTERN_LENGTH, limits.max_like_pattern);
  sqlite3_limit(db, SQLITE_LIMIT_VARIABLE_NUMBER, limits.max_variables);
  sqlite3_limit(db, SQLITE_LIMIT_TRIGGER_DEPTH, 1);
  sqlite3_busy_timeout(db, 2000);  // the tracer may be writing (WAL): wait, don't fail
  // Sorts and temporary b-trees in memory, under the hard heap limit: on disk they spilled
  // gigabytes into /var/tmp.
  sqlite3_exec(db, "PRAGMA temp_store = MEMORY", nullptr, nullptr, nullptr);
  char* err = nullptr;
  if (sqlite3_exec(db, "PRAGMA query_only = 1", nullptr, nullptr, &err) != SQLITE_OK) {
    std::string msg = err ? err : "unknown error";
    sqlite3_free(err);
    return fail("Cannot open trace database " + path + ": " + msg + ".");
  }
  auto guard = std::make_unique<FunctionGuard>();
  guard->max_len = limits.max_value_bytes;
  if (sqlite3_open_v2(":memory:", &guard->calc, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                      nullptr) != SQLITE_OK) {
    return fail("Cannot open an in-memory SQLite connection (out of memory?).");
  }
  sqlite3_limit(guard->calc, SQLITE_LIMIT_LENGTH, limits.max_value_bytes);
  // INNOCUOUS so views (untrusted schema) may still call them, e.g. stack_frames.pc_hex.
  const int flags = SQLITE_UTF8 | SQLITE_DETERMINISTIC | SQLITE_INNOCUOUS;
  for (const char* name : {"printf", "format"}) {
    sqlite3_create_function_v2(db, name, -1, flags, guard.get(), &FunctionGuard::call_printf,
                               nullptr, nullptr, nullptr);
  }
  using Fn = void (*)(sqlite3_context*, int, sqlite3_value**);
  const std::pair<int, Fn> pairwise[] = {{2, &FunctionGuard::call_pairwise<0>},
                                         {2, &FunctionGuard::call_pairwise<1>},
                                         {2, &FunctionGuard::call_pairwise<2>},
                                         {3, &FunctionGuard::call_pairwise<3>},
                                         {2, &FunctionGuard::call_pairwise<4>}};
  for (size_t i = 0; i < std::size(pairwise); ++i) {
    sqlite3_create_function_v2(db, FunctionGuard::kPairwise[i], pairwise[i].first, flags,
                               guard.get(), pairwise[i].second, nullptr, nullptr, nullptr);
  }
  declare_json_tables(db);
  return std::unique_ptr<TraceDb>(new TraceDb(db, path, std::move(guard)));
}

bool TraceDb::has_table(std::string_view name) {
  auto r = query("SELECT 1 FROM sqlite_master WHERE type IN ('table','view') AND name = ?1",
                 {Json(std::string(name))});
  return r.ok() && !r->rows.empty();
}

Result<QueryResult> TraceDb::query(std::string_view sql, const std::vector<Json>& params,
                                   const QueryLimits& limits, const QueryControl& control) {
  if (sql.find('\0') != std::string_view::npos) {
    return Status::Error("Refused: the SQL contains a NUL byte.");
  }
  std::string text(sql);
  AuthState auth;
  sqlite3_stmt* stmt = nullptr;
  const char* tail = nullptr;
  int rc = SQLITE_OK;
  for (int attempt = 0; attempt < 2; ++attempt) {
    auth = AuthState{};
    sqlite3_set_authorizer(db_, authorizer, &auth);
    rc = sqlite3_prepare_v3(db_, text.c_str(), static_cast<int>(text.size()) + 1, 0, &stmt, &tail);
    sqlite3_set_authorizer(db_, nullptr, nullptr);
    if (rc == SQLITE_OK || !auth.schema_row || attempt > 0) break;
    // Possibly json_each/json_tree declaring themselves (e.g. after a schema reset):
    // declare them without the authorizer and prepare again; a real schema write is
    // refused again.
    declare_json_tables(db_);
  }
  // Held until return so no code path leaks the statement.
  std::unique_ptr<sqlite3_stmt, int (*)(sqlite3_stmt*)> guard(stmt, sqlite3_finalize);
  if (rc != SQLITE_OK) {
    if (!auth.denied.empty()) {
      if (auth.schema_row) {
        std::string words = leading_keywords(text);
        auth.denied =
            words.empty() || words == "SELECT" || words == "WITH" ? "changing the schema" : words;
      }
      return Status::Error("Refused: " + auth.denied +
                           " is not allowed; the trace is read-only over MCP (only SELECT / "
                           "WITH … SELECT over the trace tables).");
    }
    return Status::Error(std::string("SQL error: ") + sqlite3_errmsg(db_) + ".");
  }
  if (!stmt) return Status::Error("Refused: the SQL contains no statement.");
  if (tail && !only_trivia(tail)) {
    return Status::Error(
        "Refused: exactly one statement per call; remove everything after the first ';'.");
  }
  if (!sqlite3_stmt_readonly(stmt)) {
    return Status::Error("Refused: only read-only statements are allowed over MCP.");
  }
  int nparams = sqlite3_bind_parameter_count(stmt);
  if (static_cast<int>(params.size()) != nparams) {
    return Status::Error("SQL has " + std::to_string(nparams) + " parameters but " +
                         std::to_string(params.size()) + " values were given.");
  }
  for (int i = 0; i < nparams; ++i) {
    const Json& v = params[static_cast<size_t>(i)];
    int b = SQLITE_OK;
    if (v.is_null()) {
      b = sqlite3_bind_null(stmt, i + 1);
    } else if (v.is_boolean()) {
      b = sqlite3_bind_int(stmt, i + 1, v.get<bool>() ? 1 : 0);
    } else if (v.is_number_integer()) {
      b = sqlite3_bind_int64(stmt, i + 1, v.get<int64_t>());
    } else if (v.is_number()) {
      b = sqlite3_bind_double(stmt, i + 1, v.get<double>());
    } else if (v.is_string()) {
      const auto& s = v.get_ref<const std::string&>();
      b = sqlite3_bind_text(stmt, i + 1, s.data(), static_cast<int>(s.size()), SQLITE_TRANSIENT);
    } else {
      return Status::Error("Parameter " + std::to_string(i + 1) +
                           " must be null, a boolean, a number or a string.");
    }
    if (b != SQLITE_OK)
      return Status::Error(std::string("Cannot bind parameter: ") + sqlite3_errmsg(db_) + ".");
  }

  QueryResult out;
  int ncols = sqlite3_column_count(stmt);
  for (int i = 0; i < ncols; ++i) {
    const char* name = sqlite3_column_name(stmt, i);
    out.columns.emplace_back(name ? name : "");
  }
  ProgressState ps;
  ps.start = std::chrono::steady_clock::now();
  ps.deadline = ps.start + std::chrono::milliseconds(limits.time_limit_ms);
  ps.next_report = ps.start + std::chrono::milliseconds(control.progress_interval_ms);
  ps.control = &control;
  sqlite3_progress_handler(db_, 1000, progress, &ps);
  const int64_t max_rows = std::max<int64_t>(0, limits.max_rows);
  for (;;) {
    rc = sqlite3_step(stmt);
    if (rc != SQLITE_ROW) break;
    if (static_cast<int64_t>(out.rows.size()) >= max_rows) {
      out.truncated = true;
      out.truncated_by = "rows";
      break;
    }
    int64_t row_bytes = 0;
    Json row = Json::array();
    for (int i = 0; i < ncols; ++i) row.push_back(column_value(stmt, i, row_bytes));
    if (out.result_bytes + row_bytes > limits.max_result_bytes) {
      out.truncated = true;
      out.truncated_by = "bytes";
      break;
    }
    out.result_bytes += row_bytes;
    out.rows.push_back(std::move(row));
  }
  sqlite3_progress_handler(db_, 0, nullptr, nullptr);
  out.elapsed_us = std::chrono::duration_cast<std::chrono::microseconds>(
                       std::chrono::steady_clock::now() - ps.start)
                       .count();
  if (rc == SQLITE_ROW || rc == SQLITE_DONE) return out;
  if (ps.cancelled) return Status::Error("Cancelled by the client.");
  if (ps.timed_out) {
    return Status::Error("Query stopped at the " + std::to_string(limits.time_limit_ms) +
                         " ms time limit; narrow it (WHERE on ts/pid/tid, LIMIT, fewer joins) "
                         "or aggregate.");
  }
  if (rc == SQLITE_NOMEM) {
    return Status::Error(
        "Query stopped: it needed more memory than the server allows; "
        "aggregate or add LIMIT.");
  }
  if (rc == SQLITE_TOOBIG) {
    return Status::Error("Query stopped: a value exceeded the " +
                         std::to_string(sqlite3_limit(db_, SQLITE_LIMIT_LENGTH, -1)) +
                         "-byte limit for one string or blob.");
  }
  return Status::Error(std::string("SQL error: ") + sqlite3_errmsg(db_) + ".");
}

}  // namespace causeway::mcp
