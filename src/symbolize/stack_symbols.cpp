#include "symbolize/stack_symbols.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <set>
#include <unordered_map>

#include "store/reader.h"
#include "store/schema.h"
#include "symbolize/kernel_names.h"

namespace causeway::symbolize {
namespace {

class Stmt {
 public:
  Stmt(sqlite3* db, const std::string& sql) {
    rc_ = sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt_, nullptr);
  }
  ~Stmt() { sqlite3_finalize(stmt_); }
  Stmt(const Stmt&) = delete;
  Stmt& operator=(const Stmt&) = delete;
  bool ok() const { return rc_ == SQLITE_OK; }
  sqlite3_stmt* get() const { return stmt_; }

 private:
  sqlite3_stmt* stmt_ = nullptr;
  int rc_ = SQLITE_ERROR;
};

std::string text(sqlite3_stmt* s, int col) {
  const unsigned char* t = sqlite3_column_text(s, col);
  return t != nullptr ? reinterpret_cast<const char*>(t) : "";
}

std::set<std::string> columns_of(sqlite3* db, const std::string& table) {
  std::set<std::string> out;
  Stmt s(db, "SELECT name FROM pragma_table_info('" + table + "')");
  if (!s.ok()) return out;
  while (sqlite3_step(s.get()) == SQLITE_ROW) out.insert(text(s.get(), 0));
  return out;
}

bool table_has_rows(sqlite3* db, const std::string& table) {
  Stmt s(db, "SELECT 1 FROM " + table + " LIMIT 1");
  return s.ok() && sqlite3_step(s.get()) == SQLITE_ROW;
}

// The first of `names` that `cols` has, or "".
std::string pick(const std::set<std::string>& cols, std::initializer_list<const char*> names) {
  for (const char* n : names) {
    if (cols.count(n) != 0) return n;
  }
  return {};
}

}  // namespace

// How this trace stores Python stacks (capture writes them when it traces CPython). Found
// by looking at the columns, so traces from before Python stacks existed work unchanged.
struct StackSymbolizer::PythonSchema {
  bool present = false;
  std::map<std::string, std::string, std::less<>> event_column;  // event table -> column
  sqlite3_stmt* frames = nullptr;
  ~PythonSchema() { sqlite3_finalize(frames); }
};

StackSymbolizer::StackSymbolizer(sqlite3* db) : db_(db), py_(std::make_unique<PythonSchema>()) {
  sqlite3_prepare_v2(db_,
                     "SELECT s.upid, f.depth, f.pc FROM stack_frame f JOIN stack s ON s.id = "
                     "f.stack_id WHERE f.stack_id = ?1 ORDER BY f.depth",
                     -1, &frames_stmt_, nullptr);
  if (stacks_symbolized(db_) && table_has_rows(db_, "frame_symbol")) {
    have_stored_ =
        sqlite3_prepare_v2(db_,
                           "SELECT fs.inlined, fs.module_offset, y.function, y.file, y.line, "
                           "y.module, y.kind FROM frame_symbol fs JOIN symbol y ON y.id = "
                           "fs.symbol_id WHERE fs.upid = ?1 AND fs.pc = ?2 ORDER BY fs.idx",
                           -1, &stored_stmt_, nullptr) == SQLITE_OK;
  }
  (void)load_python_schema();
}

StackSymbolizer::~StackSymbolizer() {
  sqlite3_finalize(frames_stmt_);
  sqlite3_finalize(stored_stmt_);
}

Status StackSymbolizer::load_python_schema() {
  const auto cols = columns_of(db_, "python_frame");
  if (cols.empty()) return Status::Ok();
  const std::string stack = pick(cols, {"stack_id", "py_stack_id", "python_stack_id"});
  const std::string depth = pick(cols, {"depth", "idx"});
  const std::string line = pick(cols, {"line", "lineno"});
  const std::string entry = pick(cols, {"entry", "is_entry"});
  std::string function, file;
  if (auto c = pick(cols, {"function", "name", "qualname"}); !c.empty()) {
    function = "f." + c;
  } else if (auto id = pick(cols, {"function_id", "name_id", "qualname_id"}); !id.empty()) {
    function = "(SELECT str FROM string WHERE id = f." + id + ")";
  }
  if (auto c = pick(cols, {"file", "filename"}); !c.empty()) {
    file = "f." + c;
  } else if (auto id = pick(cols, {"file_id", "filename_id"}); !id.empty()) {
    file = "(SELECT str FROM string WHERE id = f." + id + ")";
  }
  if (stack.empty() || depth.empty() || function.empty()) {
    return Status::Error("python_frame has an unknown layout; Python frames are left out.");
  }
  const std::string sql = "SELECT " + function + ", " + (file.empty() ? "NULL" : file) + ", " +
                          (line.empty() ? "0" : "f." + line) + ", " +
                          (entry.empty() ? "0" : "f." + entry) + " FROM python_frame f WHERE f." +
                          stack + " = ?1 ORDER BY f." + depth;
  if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &py_->frames, nullptr) != SQLITE_OK) {
    return Status::Error("python_frame cannot be read; Python frames are left out.");
  }
  for (const char* table : {"cuda_call", "thread_state"}) {
    const auto c = pick(columns_of(db_, table), {"py_stack_id", "python_stack_id"});
    if (!c.empty()) py_->event_column[table] = c;
  }
  py_->present = true;
  return Status::Ok();
}

std::string StackSymbolizer::python_stack_column(std::string_view table) const {
  auto it = py_->event_column.find(table);
  return it == py_->event_column.end() ? std::string() : it->second;
}

const std::vector<StackSymbolizer::Mapping>& StackSymbolizer::mappings(int64_t upid) {
  auto it = mappings_.find(upid);
  if (it != mappings_.end()) return it->second;
  std::vector<Mapping> maps;
  // Traces recorded before the size/mtime stamp existed lack its columns: NULL, i.e. "not
  // recorded", which leaves files without a build-id unverified (module_symbolizer.h).
  const bool stamped = columns_of(db_, "mapping").count("file_mtime_ns") != 0;
  Stmt s(db_, std::string("SELECT start_addr, end_addr, file_offset, path, build_id, ") +
                  (stamped ? "file_size, file_mtime_ns" : "NULL, NULL") +
                  " FROM mapping WHERE upid = ?1 AND path IS NOT NULL ORDER BY start_addr");
  if (s.ok()) {
    sqlite3_bind_int64(s.get(), 1, upid);
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      Mapping m{static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1)),
                static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2)),
                text(s.get(), 3),
                {text(s.get(), 4)}};
      if (sqlite3_column_type(s.get(), 5) != SQLITE_NULL &&
          sqlite3_column_type(s.get(), 6) != SQLITE_NULL) {
        m.recorded.stamp =
            host::FileStamp{sqlite3_column_int64(s.get(), 5), sqlite3_column_int64(s.get(), 6)};
      }
      maps.push_back(std::move(m));
    }
  }
  return mappings_.emplace(upid, std::move(maps)).first->second;
}

std::vector<Frame> StackSymbolizer::stored(int64_t upid, uint64_t lookup_pc) {
  std::vector<Frame> out;
  if (!have_stored_) return out;
  sqlite3_reset(stored_stmt_);
  sqlite3_bind_int64(stored_stmt_, 1, upid);
  sqlite3_bind_int64(stored_stmt_, 2, static_cast<int64_t>(lookup_pc));
  while (sqlite3_step(stored_stmt_) == SQLITE_ROW) {
    Frame f;
    f.inlined = sqlite3_column_int64(stored_stmt_, 0) != 0;
    f.module_offset = static_cast<uint64_t>(sqlite3_column_int64(stored_stmt_, 1));
    f.function = text(stored_stmt_, 2);
    f.file = text(stored_stmt_, 3);
    f.line = sqlite3_column_int64(stored_stmt_, 4);
    f.module = text(stored_stmt_, 5);
    f.kind = kind_from_name(text(stored_stmt_, 6));
    out.push_back(std::move(f));
  }
  return out;
}

const std::vector<Frame>& StackSymbolizer::lookup(int64_t upid, uint64_t pc, bool return_address) {
  const uint64_t lookup_pc = return_address ? pc - 1 : pc;
  const auto found = cache_index_.find_or_add(upid, lookup_pc);
  if (!found.added) return cache_[found.number];
  std::vector<Frame> frames = stored(upid, lookup_pc);
  if (!frames.empty()) {
    used_stored_ = true;
  } else {
    ++computed_;
    const auto& maps = mappings(upid);
    auto m = std::upper_bound(maps.begin(), maps.end(), lookup_pc,
                              [](uint64_t a, const Mapping& x) { return a < x.start; });
    if (m != maps.begin() && lookup_pc < std::prev(m)->end) {
      const Mapping& map = *std::prev(m);
      frames = modules_.resolve(map.path, map.recorded, lookup_pc - map.start + map.file_offset);
    } else {
      Frame f;
      f.kind = FrameKind::kNoMapping;
      frames.push_back(std::move(f));
    }
  }
  // Cached without the captured pc: the key is the looked-up address, which an innermost
  // frame at A and a return address A + 1 share, and each must still show its own pc.
  cache_.push_back(std::move(frames));
  return cache_.back();
}

Result<std::vector<Frame>> StackSymbolizer::native(int64_t stack_id) {
  if (frames_stmt_ == nullptr) {
    return Status::Error("This trace has no stack tables; it cannot show stacks.");
  }
  std::vector<std::pair<int64_t, uint64_t>> raw;  // (upid, pc), innermost first
  sqlite3_reset(frames_stmt_);
  sqlite3_bind_int64(frames_stmt_, 1, stack_id);
  int rc;
  while ((rc = sqlite3_step(frames_stmt_)) == SQLITE_ROW) {
    raw.emplace_back(sqlite3_column_int64(frames_stmt_, 0),
                     static_cast<uint64_t>(sqlite3_column_int64(frames_stmt_, 2)));
  }
  if (rc != SQLITE_DONE) {
    return Status::Error(std::string("Reading stack frames failed: ") + sqlite3_errmsg(db_) + ".");
  }
  std::vector<Frame> out;
  for (size_t depth = 0; depth < raw.size(); ++depth) {
    const auto& frames = lookup(raw[depth].first, raw[depth].second, depth > 0);
    for (const Frame& f : frames) {
      out.push_back(f);
      out.back().pc = raw[depth].second;
    }
  }
  return out;
}

Result<std::vector<PythonFrame>> StackSymbolizer::python(int64_t py_stack_id) {
  std::vector<PythonFrame> out;
  if (!py_->present) return out;
  sqlite3_stmt* s = py_->frames;
  sqlite3_reset(s);
  sqlite3_bind_int64(s, 1, py_stack_id);
  int rc;
  while ((rc = sqlite3_step(s)) == SQLITE_ROW) {
    PythonFrame p;
    p.function = text(s, 0);
    p.file = text(s, 1);
    p.line = sqlite3_column_int64(s, 2);
    p.entry = sqlite3_column_int64(s, 3) != 0;
    out.push_back(std::move(p));
  }
  if (rc != SQLITE_DONE) {
    return Status::Error(std::string("Reading Python frames failed: ") + sqlite3_errmsg(db_) + ".");
  }
  return out;
}

Result<std::vector<Frame>> StackSymbolizer::merged(std::optional<int64_t> stack_id,
                                                   std::optional<int64_t> py_stack_id) {
  std::vector<Frame> native_frames;
  if (stack_id) {
    auto n = native(*stack_id);
    if (!n.ok()) return n.status();
    native_frames = std::move(*n);
  }
  if (!py_stack_id) return native_frames;
  auto py = python(*py_stack_id);
  if (!py.ok()) return py.status();
  return merge_python(native_frames, *py);
}

bool stacks_symbolized(sqlite3* db) {
  Stmt s(db, "SELECT value FROM meta WHERE key = 'symbolized'");
  return s.ok() && sqlite3_step(s.get()) == SQLITE_ROW && text(s.get(), 0) == "1";
}

namespace {

bool is_storage(std::string_view name) {
  return name == "symbol" || name == "frame_symbol" || name == "merged_stack" ||
         name == "merged_frame" || name == "stack_symbols" || name == "merged_stack_symbols";
}

// CREATE ... IF NOT EXISTS for this module's tables, views and index, so traces recorded
// before symbolization (or merged stacks) existed can be symbolized too. Their other views
// (cuda_calls, ...) stay as they were written.
std::string storage_ddl() {
  std::string out;
  for (const store::TableDef& t : store::schema().tables) {
    if (!is_storage(t.name)) continue;
    out += "CREATE TABLE IF NOT EXISTS " + std::string(t.name) + " (";
    for (size_t i = 0; i < t.columns.size(); ++i) {
      const auto& c = t.columns[i];
      if (i > 0) out += ", ";
      out += std::string(c.name) + " " + std::string(c.type);
      if (!c.constraint.empty()) out.append(" ").append(c.constraint);
    }
    if (!t.primary_key.empty()) out += ", PRIMARY KEY (" + std::string(t.primary_key) + ")";
    out.append(")").append(t.table_suffix).append(";\n");
  }
  for (const store::ViewDef& v : store::schema().views) {
    if (!is_storage(v.name)) continue;
    out += "CREATE VIEW IF NOT EXISTS " + std::string(v.name) + " AS " + std::string(v.select_sql) +
           ";\n";
  }
  for (const store::IndexDef& i : store::schema().indexes) {
    if (!is_storage(i.table)) continue;
    out += "CREATE INDEX IF NOT EXISTS " + std::string(i.name) + " ON " + std::string(i.table) +
           " (" + std::string(i.columns) + ");\n";
  }
  return out;
}

Status sql_error(sqlite3* db, const std::string& path, const char* what) {
  return Status::Error("Storing symbols in " + path + " failed while " + what + ": " +
                       sqlite3_errmsg(db) + ".");
}

}  // namespace

namespace {

// Where a looked-up address's stored frames are: rows[begin, begin + count) of
// symbolize_and_store's FrameRow table.
struct AddressRows {
  uint32_t begin = 0, count = 0;
};

// One frame of a looked-up address as a merged_frame row takes it: everything but the
// merged stack, depth and captured pc.
struct FrameRow {
  int64_t symbol_id = 0;
  int64_t module_offset = 0;
  bool has_pc = false, has_offset = false, inlined = false;
};

// Every frame of every stack, in (stack id, depth) order, with its stack's process.
// stack_frame and stack are both stored in stack id order, so they are read side by side
// rather than joined: a join looks the stack up again for each of its frames. Frames of a
// stack id missing from `stack` are skipped, as the join would.
class FrameScan {
 public:
  explicit FrameScan(sqlite3* db)
      : frames_(db, "SELECT stack_id, depth, pc FROM stack_frame ORDER BY stack_id, depth"),
        stacks_(db, "SELECT id, upid FROM stack ORDER BY id") {}
  bool ok() const { return frames_.ok() && stacks_.ok(); }
  // Moves to the next frame; false at the end or on an error (failed() tells which).
  bool next() {
    for (;;) {
      const int rc = sqlite3_step(frames_.get());
      if (rc != SQLITE_ROW) {
        failed_ = rc != SQLITE_DONE;
        return false;
      }
      stack_id_ = sqlite3_column_int64(frames_.get(), 0);
      while (!stacks_done_ && stack_row_id_ < stack_id_) {
        const int src = sqlite3_step(stacks_.get());
        if (src != SQLITE_ROW) {
          stacks_done_ = true;
          failed_ = src != SQLITE_DONE;
          if (failed_) return false;
          break;
        }
        stack_row_id_ = sqlite3_column_int64(stacks_.get(), 0);
        upid_ = sqlite3_column_int64(stacks_.get(), 1);
      }
      if (stack_row_id_ == stack_id_) {
        depth_ = sqlite3_column_int64(frames_.get(), 1);
        pc_ = static_cast<uint64_t>(sqlite3_column_int64(frames_.get(), 2));
        return true;
      }
    }
  }
  bool failed() const { return failed_; }
  int64_t stack_id() const { return stack_id_; }
  int64_t upid() const { return upid_; }
  int64_t depth() const { return depth_; }
  uint64_t pc() const { return pc_; }

 private:
  Stmt frames_, stacks_;
  bool stacks_done_ = false, failed_ = false;
  int64_t stack_row_id_ = std::numeric_limits<int64_t>::min(), stack_id_ = 0, upid_ = 0, depth_ = 0;
  uint64_t pc_ = 0;
};

// INSERTs of rows of integers (or NULLs) into `table`, kRows rows per statement: one
// sqlite3_step per batch instead of per row, for the millions of merged frames. Rows are
// inserted in the order added; call flush() at the end for the last, partial batch.
class BatchInsert {
 public:
  static constexpr int kRows = 64;
  BatchInsert(sqlite3* db, const std::string& table, const std::string& columns, int ncols)
      : ncols_(ncols),
        one_(db, "INSERT INTO " + table + " (" + columns + ") VALUES " + placeholders(ncols, 1)),
        many_(db,
              "INSERT INTO " + table + " (" + columns + ") VALUES " + placeholders(ncols, kRows)) {
    pending_.reserve(static_cast<size_t>(ncols) * kRows);
  }
  bool ok() const { return one_.ok() && many_.ok(); }
  // false when SQLite failed (the connection's error message says why).
  bool add(std::initializer_list<std::optional<int64_t>> row) {
    pending_.insert(pending_.end(), row.begin(), row.end());
    if (pending_.size() < static_cast<size_t>(ncols_) * kRows) return true;
    const bool ran = run(many_.get(), 0, pending_.size());
    pending_.clear();
    return ran;
  }
  bool flush() {
    for (size_t at = 0; at < pending_.size(); at += static_cast<size_t>(ncols_)) {
      if (!run(one_.get(), at, at + static_cast<size_t>(ncols_))) return false;
    }
    pending_.clear();
    return true;
  }

 private:
  static std::string placeholders(int ncols, int rows) {
    std::string row = "(";
    for (int c = 0; c < ncols; ++c) row += c == 0 ? "?" : ", ?";
    row += ")";
    std::string out;
    for (int r = 0; r < rows; ++r) out += (r == 0 ? "" : ", ") + row;
    return out;
  }
  bool run(sqlite3_stmt* s, size_t from, size_t to) {
    sqlite3_reset(s);
    for (size_t i = from; i < to; ++i) {
      const int param = static_cast<int>(i - from) + 1;
      if (pending_[i]) {
        sqlite3_bind_int64(s, param, *pending_[i]);
      } else {
        sqlite3_bind_null(s, param);
      }
    }
    return sqlite3_step(s) == SQLITE_DONE;
  }

  int ncols_;
  Stmt one_, many_;
  std::vector<std::optional<int64_t>> pending_;
};

using StackPair = std::pair<std::optional<int64_t>, std::optional<int64_t>>;  // (native, Python)

// Every distinct (stack_id, py_stack_id) pair of the events that have stacks (CUDA calls,
// thread states, syscalls; the Python column only where the trace has one), ordered by
// native stack (NULL first, as SQLite orders), then Python stack.
Result<std::vector<StackPair>> event_stack_pairs(sqlite3* db, const std::string& path,
                                                 const StackSymbolizer& symbolizer) {
  std::vector<StackPair> out;
  std::string pairs;
  for (const char* table : {"cuda_call", "thread_state", "syscall"}) {
    if (!table_has_rows(db, table) || columns_of(db, table).count("stack_id") == 0) continue;
    const std::string py = symbolizer.python_stack_column(table);
    if (!pairs.empty()) pairs += " UNION ";
    pairs += "SELECT stack_id, " + (py.empty() ? std::string("NULL") : py) + " AS py FROM " + table;
  }
  if (pairs.empty()) return out;
  Stmt select(db, "SELECT DISTINCT stack_id, py FROM (" + pairs +
                      ") WHERE coalesce(stack_id, py) IS NOT NULL ORDER BY 1, 2");
  if (!select.ok()) return sql_error(db, path, "preparing the merged stacks");
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    auto opt = [&](int col) -> std::optional<int64_t> {
      if (sqlite3_column_type(select.get(), col) == SQLITE_NULL) return std::nullopt;
      return sqlite3_column_int64(select.get(), col);
    };
    out.emplace_back(opt(0), opt(1));
  }
  if (rc != SQLITE_DONE) return sql_error(db, path, "reading the events' stacks");
  return out;
}

}  // namespace

// The body of symbolize_and_store's transaction (see there); fills `summary`. A friend of
// StackSymbolizer, whose lookups it shares.
struct SymbolStore {
  static Status run(sqlite3* db, const std::string& path, SymbolizeSummary* summary);
};

// One transaction, in one pass over every stack's frames (stack id order):
//  - each distinct looked-up address is symbolized on first use, its frames interned into
//    `symbol` (numbered in that order) and stored in `frame_symbol`;
//  - each stack that an event has without a Python stack gets its merged_stack /
//    merged_frame rows right away, from the rows just resolved: such a pair merges to exactly
//    its native stack, and most events of a real trace are such pairs, so a trace's millions
//    of merged frames cost neither a query, a Frame copy nor a symbol key each;
//  - every other pair (with a Python stack, or whose stack has no frames or an irregular
//    depth numbering) goes afterwards, in pair order, through StackSymbolizer::merged, the
//    path `causeway stacks` shows;
//  - finally the kernels of runtime launches are named from the same lookups
//    (kernel_names.h).
// Merged stack ids number the distinct pairs in order, so the results are those of merging
// every pair one by one.
Result<SymbolizeSummary> symbolize_and_store(const std::string& path) {
  {
    auto reader = store::Reader::open(path);
    if (!reader.ok()) return reader.status();
    if ((*reader)->being_recorded()) {
      return Status::Error(path + " is still being recorded; symbolize it after the trace ends.");
    }
  }
  sqlite3* db = nullptr;
  if (sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr) != SQLITE_OK) {
    Status st = Status::Error(path + " cannot be opened for writing: " +
                              (db != nullptr ? sqlite3_errmsg(db) : "out of memory") + ".");
    sqlite3_close(db);
    return st;
  }
  std::unique_ptr<sqlite3, int (*)(sqlite3*)> owner(db, sqlite3_close);
  sqlite3_busy_timeout(db, 5000);
  store::harden_trace_connection(db);  // the file's own triggers must not fire on our writes
  if (sqlite3_exec(db, storage_ddl().c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sql_error(db, path, "creating the symbol tables");
  }

  SymbolizeSummary summary;
  if (sqlite3_exec(db,
                   "BEGIN IMMEDIATE; DELETE FROM merged_frame; DELETE FROM merged_stack; DELETE "
                   "FROM frame_symbol; DELETE FROM symbol;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sql_error(db, path, "clearing earlier symbols");
  }
  Status failure = SymbolStore::run(db, path, &summary);
  if (failure.ok() &&
      sqlite3_exec(db,
                   "INSERT OR REPLACE INTO meta (key, value) VALUES ('symbolized', '1'); COMMIT;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    failure = sql_error(db, path, "committing");
  }
  if (!failure.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return failure;
  }
  return summary;
}

Status SymbolStore::run(sqlite3* db, const std::string& path, SymbolizeSummary* summary) {
  Stmt ins_symbol(db,
                  "INSERT INTO symbol (id, function, file, line, module, kind) VALUES (?1, ?2, "
                  "?3, ?4, ?5, ?6)");
  Stmt ins_frame(db,
                 "INSERT OR IGNORE INTO frame_symbol (upid, pc, idx, symbol_id, inlined, "
                 "module_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  BatchInsert merged_stacks(db, "merged_stack", "id, stack_id, py_stack_id, depth", 4);
  BatchInsert merged_frames(db, "merged_frame",
                            "merged_stack_id, depth, symbol_id, pc, module_offset, inlined", 6);
  if (!ins_symbol.ok() || !ins_frame.ok() || !merged_stacks.ok() || !merged_frames.ok()) {
    return sql_error(db, path, "preparing inserts");
  }
  auto bind_text = [](sqlite3_stmt* s, int i, const std::string& v) {
    if (v.empty()) {
      sqlite3_bind_null(s, i);
    } else {
      sqlite3_bind_text(s, i, v.data(), static_cast<int>(v.size()), SQLITE_TRANSIENT);
    }
  };
  std::unordered_map<std::string, int64_t> symbol_ids;
  Status failure;
  // The symbol row of `f` (inserted on first use); 0 after a failed insert (`failure` says).
  auto symbol_id = [&](const Frame& f) -> int64_t {
    // Unresolved frames keep their module but no offset in `symbol`, so one row serves every
    // address of a module (frame_symbol / merged_frame.module_offset has the offset).
    std::string key = std::string(kind_name(f.kind)) + '\x1f' + f.function + '\x1f' + f.file +
                      '\x1f' + std::to_string(f.line) + '\x1f' + f.module;
    auto [it, inserted] = symbol_ids.emplace(std::move(key), 0);
    if (inserted) {
      it->second = static_cast<int64_t>(symbol_ids.size());
      sqlite3_stmt* s = ins_symbol.get();
      sqlite3_reset(s);
      sqlite3_bind_int64(s, 1, it->second);
      bind_text(s, 2, f.function);
      bind_text(s, 3, f.file);
      if (f.line > 0) {
        sqlite3_bind_int64(s, 4, f.line);
      } else {
        sqlite3_bind_null(s, 4);
      }
      bind_text(s, 5, f.module);
      const std::string_view kind = kind_name(f.kind);
      sqlite3_bind_text(s, 6, kind.data(), static_cast<int>(kind.size()), SQLITE_STATIC);
      if (sqlite3_step(s) != SQLITE_DONE) failure = sql_error(db, path, "adding a symbol");
    }
    return it->second;
  };
  // The merged_frame fields of `f`, whose symbol row is `sid`.
  auto frame_row = [](const Frame& f, int64_t sid) {
    const bool python = f.kind == FrameKind::kPython || f.kind == FrameKind::kPythonAppended;
    return FrameRow{sid, static_cast<int64_t>(f.module_offset), !python,
                    !python && f.kind != FrameKind::kNoMapping, f.inlined};
  };
  auto add_merged_frame = [&](int64_t id, size_t depth, const FrameRow& r, uint64_t pc) {
    return merged_frames.add(
        {id, static_cast<int64_t>(depth), r.symbol_id,
         r.has_pc ? std::optional<int64_t>(static_cast<int64_t>(pc)) : std::nullopt,
         r.has_offset ? std::optional<int64_t>(r.module_offset) : std::nullopt, r.inlined ? 1 : 0});
  };

  // Reads stack tables only through the symbolizer's own lookups (stored symbols were just
  // deleted, so everything is computed from the files on disk).
  StackSymbolizer symbolizer(db);
  auto todo = event_stack_pairs(db, path, symbolizer);
  if (!todo.ok()) return todo.status();

  // By (upid, lookup pc): addresses[index number], into `rows`.
  AddressIndex index;
  std::vector<AddressRows> addresses;
  std::vector<FrameRow> rows;
  // The stored frames of captured `pc` (pc - 1 for a return address): symbolized, interned
  // and stored in frame_symbol on first use.
  auto resolve = [&](int64_t upid, uint64_t pc, bool ret) -> AddressRows {
    const uint64_t lookup_pc = ret ? pc - 1 : pc;
    const auto found = index.find_or_add(upid, lookup_pc);
    if (!found.added) return addresses[found.number];
    const auto& frames = symbolizer.lookup(upid, pc, ret);
    ++summary->addresses;
    if (frames.size() == 1 && frames[0].kind != FrameKind::kNative &&
        frames[0].kind != FrameKind::kSymbolOnly) {
      ++summary->unresolved;
    }
    const AddressRows a{static_cast<uint32_t>(rows.size()), static_cast<uint32_t>(frames.size())};
    for (size_t idx = 0; idx < frames.size(); ++idx) {
      const Frame& f = frames[idx];
      const int64_t sid = symbol_id(f);
      rows.push_back(frame_row(f, sid));
      sqlite3_stmt* s = ins_frame.get();
      sqlite3_reset(s);
      sqlite3_bind_int64(s, 1, upid);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(lookup_pc));
      sqlite3_bind_int64(s, 3, static_cast<int64_t>(idx));
      sqlite3_bind_int64(s, 4, sid);
      sqlite3_bind_int(s, 5, f.inlined ? 1 : 0);
      if (f.kind == FrameKind::kNoMapping) {
        sqlite3_bind_null(s, 6);
      } else {
        sqlite3_bind_int64(s, 6, static_cast<int64_t>(f.module_offset));
      }
      if (sqlite3_step(s) != SQLITE_DONE) failure = sql_error(db, path, "adding a frame");
    }
    addresses.push_back(a);
    return a;
  };

  // Pairs are matched to the scan in order: todo[next] is the first not yet taken. Pairs
  // passed over (a Python stack, or a native stack without frames) are merged afterwards.
  size_t next = 0;
  std::vector<size_t> later;  // todo indexes, ascending
  auto native_only_pair = [&](int64_t stack_id) -> std::optional<size_t> {
    while (next < todo->size() &&
           ((*todo)[next].second || !(*todo)[next].first || *(*todo)[next].first < stack_id)) {
      later.push_back(next++);
    }
    if (next < todo->size() && *(*todo)[next].first == stack_id) return next++;
    return std::nullopt;
  };
  {
    FrameScan scan(db);
    if (!scan.ok()) return sql_error(db, path, "reading stacks");
    std::vector<std::pair<AddressRows, uint64_t>> stack;  // (rows, captured pc), innermost first
    bool more = scan.next();
    while (more && failure.ok()) {
      const int64_t stack_id = scan.stack_id();
      const std::optional<size_t> pair = native_only_pair(stack_id);
      stack.clear();
      bool regular = true;  // depths number the frames 0, 1, ... as StackSymbolizer assumes
      size_t depth = 0;
      for (; more && scan.stack_id() == stack_id; more = scan.next()) {
        const int64_t frame_depth = scan.depth();
        if (frame_depth != static_cast<int64_t>(stack.size())) regular = false;
        const AddressRows a = resolve(scan.upid(), scan.pc(), frame_depth > 0);
        stack.emplace_back(a, scan.pc());
        depth += a.count;
      }
      if (!pair) continue;
      if (!regular) {
        later.insert(std::upper_bound(later.begin(), later.end(), *pair), *pair);
        continue;
      }
      const auto id = static_cast<int64_t>(*pair) + 1;
      if (!merged_stacks.add({id, stack_id, std::nullopt, static_cast<int64_t>(depth)})) {
        return sql_error(db, path, "adding a merged stack");
      }
      depth = 0;
      for (const auto& [a, pc] : stack) {
        for (uint32_t i = a.begin; i < a.begin + a.count; ++i) {
          if (!add_merged_frame(id, depth++, rows[i], pc)) {
            return sql_error(db, path, "adding a merged frame");
          }
        }
      }
    }
    if (!failure.ok()) return failure;
    if (scan.failed()) return sql_error(db, path, "reading stacks");
  }
  while (next < todo->size()) later.push_back(next++);
  for (const size_t i : later) {
    const auto& [stack, py] = (*todo)[i];
    const auto id = static_cast<int64_t>(i) + 1;
    auto frames = symbolizer.merged(stack, py);
    if (!frames.ok()) return frames.status();
    if (!merged_stacks.add({id, stack, py, static_cast<int64_t>(frames->size())})) {
      return sql_error(db, path, "adding a merged stack");
    }
    for (size_t depth = 0; depth < frames->size(); ++depth) {
      const Frame& f = (*frames)[depth];
      if (!add_merged_frame(id, depth, frame_row(f, symbol_id(f)), f.pc)) {
        return sql_error(db, path, "adding a merged frame");
      }
    }
    if (!failure.ok()) return failure;
  }
  if (!merged_stacks.flush()) return sql_error(db, path, "adding a merged stack");
  if (!merged_frames.flush()) return sql_error(db, path, "adding a merged frame");
  if (!failure.ok()) return failure;
  // Kernels with the same symbolizer: their host functions usually lie in modules the stacks
  // already opened.
  auto kernels = name_kernels(db, symbolizer);
  if (!kernels.ok()) return kernels.status();
  summary->kernels = kernels->kernels;
  summary->kernels_named = kernels->named;
  summary->merged_stacks = static_cast<int64_t>(todo->size());
  summary->symbols = static_cast<int64_t>(symbol_ids.size());
  summary->modules = symbolizer.modules_.modules_opened();
  return failure;
}

}  // namespace causeway::symbolize
