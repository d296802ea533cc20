#include "symbolize/stack_symbols.h"

#include <sqlite3.h>

#include <algorithm>
#include <set>
#include <unordered_map>

#include "store/reader.h"
#include "store/schema.h"

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
  Stmt s(db_,
         "SELECT start_addr, end_addr, file_offset, path, build_id FROM mapping WHERE upid = ?1 "
         "AND path IS NOT NULL ORDER BY start_addr");
  if (s.ok()) {
    sqlite3_bind_int64(s.get(), 1, upid);
    while (sqlite3_step(s.get()) == SQLITE_ROW) {
      maps.push_back({static_cast<uint64_t>(sqlite3_column_int64(s.get(), 0)),
                      static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1)),
                      static_cast<uint64_t>(sqlite3_column_int64(s.get(), 2)), text(s.get(), 3),
                      text(s.get(), 4)});
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
  const auto key = std::make_pair(upid, lookup_pc);
  auto it = cache_.find(key);
  if (it != cache_.end()) return it->second;
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
      frames = modules_.resolve(map.path, map.build_id, lookup_pc - map.start + map.file_offset);
    } else {
      Frame f;
      f.kind = FrameKind::kNoMapping;
      frames.push_back(std::move(f));
    }
  }
  // Cached without the captured pc: the key is the looked-up address, which an innermost
  // frame at A and a return address A + 1 share, and each must still show its own pc.
  return cache_.emplace(key, std::move(frames)).first->second;
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

// Every distinct (stack_id, py_stack_id) pair of the events that have stacks (CUDA calls,
// thread states, syscalls; the Python column only where the trace has one), merged as
// `causeway stacks` shows them, into merged_stack / merged_frame. Runs inside the caller's
// transaction; `symbol_id` interns a frame's symbol row (and reports its own failures).
template <typename SymbolId>
Status store_merged(sqlite3* db, const std::string& path, StackSymbolizer& symbolizer,
                    SymbolId& symbol_id, SymbolizeSummary* summary) {
  std::string pairs;
  for (const char* table : {"cuda_call", "thread_state", "syscall"}) {
    if (!table_has_rows(db, table) || columns_of(db, table).count("stack_id") == 0) continue;
    const std::string py = symbolizer.python_stack_column(table);
    if (!pairs.empty()) pairs += " UNION ";
    pairs += "SELECT stack_id, " + (py.empty() ? std::string("NULL") : py) + " AS py FROM " + table;
  }
  if (pairs.empty()) return Status::Ok();
  Stmt select(db, "SELECT DISTINCT stack_id, py FROM (" + pairs +
                      ") WHERE coalesce(stack_id, py) IS NOT NULL ORDER BY 1, 2");
  Stmt ins_stack(db,
                 "INSERT INTO merged_stack (id, stack_id, py_stack_id, depth) VALUES (?1, "
                 "?2, ?3, ?4)");
  Stmt ins_frame(db,
                 "INSERT INTO merged_frame (merged_stack_id, depth, symbol_id, pc, module_offset, "
                 "inlined) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!select.ok() || !ins_stack.ok() || !ins_frame.ok()) {
    return sql_error(db, path, "preparing the merged stacks");
  }
  std::vector<std::pair<std::optional<int64_t>, std::optional<int64_t>>> todo;
  int rc;
  while ((rc = sqlite3_step(select.get())) == SQLITE_ROW) {
    auto opt = [&](int col) -> std::optional<int64_t> {
      if (sqlite3_column_type(select.get(), col) == SQLITE_NULL) return std::nullopt;
      return sqlite3_column_int64(select.get(), col);
    };
    todo.emplace_back(opt(0), opt(1));
  }
  if (rc != SQLITE_DONE) return sql_error(db, path, "reading the events' stacks");
  auto bind_opt = [](sqlite3_stmt* s, int i, std::optional<int64_t> v) {
    if (v) {
      sqlite3_bind_int64(s, i, *v);
    } else {
      sqlite3_bind_null(s, i);
    }
  };
  int64_t id = 0;
  for (const auto& [stack, py] : todo) {
    auto frames = symbolizer.merged(stack, py);
    if (!frames.ok()) return frames.status();
    ++id;
    sqlite3_stmt* s = ins_stack.get();
    sqlite3_reset(s);
    sqlite3_bind_int64(s, 1, id);
    bind_opt(s, 2, stack);
    bind_opt(s, 3, py);
    sqlite3_bind_int64(s, 4, static_cast<int64_t>(frames->size()));
    if (sqlite3_step(s) != SQLITE_DONE) return sql_error(db, path, "adding a merged stack");
    for (size_t depth = 0; depth < frames->size(); ++depth) {
      const Frame& f = (*frames)[depth];
      const int64_t sid = symbol_id(f);
      const bool python = f.kind == FrameKind::kPython || f.kind == FrameKind::kPythonAppended;
      s = ins_frame.get();
      sqlite3_reset(s);
      sqlite3_bind_int64(s, 1, id);
      sqlite3_bind_int64(s, 2, static_cast<int64_t>(depth));
      sqlite3_bind_int64(s, 3, sid);
      bind_opt(s, 4, python ? std::nullopt : std::optional<int64_t>(static_cast<int64_t>(f.pc)));
      bind_opt(s, 5,
               python || f.kind == FrameKind::kNoMapping
                   ? std::nullopt
                   : std::optional<int64_t>(static_cast<int64_t>(f.module_offset)));
      sqlite3_bind_int(s, 6, f.inlined ? 1 : 0);
      if (sqlite3_step(s) != SQLITE_DONE) return sql_error(db, path, "adding a merged frame");
    }
  }
  summary->merged_stacks = id;
  return Status::Ok();
}

}  // namespace

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
  if (sqlite3_exec(db, storage_ddl().c_str(), nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sql_error(db, path, "creating the symbol tables");
  }

  SymbolizeSummary summary;
  // Every distinct looked-up address: pc for innermost frames, pc - 1 for return addresses.
  std::vector<std::tuple<int64_t, uint64_t, bool>> addresses;  // (upid, pc, return address)
  {
    Stmt s(db,
           "SELECT DISTINCT s.upid, f.pc, f.depth > 0 FROM stack_frame f JOIN stack s ON s.id "
           "= f.stack_id");
    if (!s.ok()) return sql_error(db, path, "reading stacks");
    int rc;
    while ((rc = sqlite3_step(s.get())) == SQLITE_ROW) {
      addresses.emplace_back(sqlite3_column_int64(s.get(), 0),
                             static_cast<uint64_t>(sqlite3_column_int64(s.get(), 1)),
                             sqlite3_column_int64(s.get(), 2) != 0);
    }
    if (rc != SQLITE_DONE) return sql_error(db, path, "reading stacks");
  }

  if (sqlite3_exec(db,
                   "BEGIN IMMEDIATE; DELETE FROM merged_frame; DELETE FROM merged_stack; DELETE "
                   "FROM frame_symbol; DELETE FROM symbol;",
                   nullptr, nullptr, nullptr) != SQLITE_OK) {
    return sql_error(db, path, "clearing earlier symbols");
  }
  Stmt ins_symbol(db,
                  "INSERT INTO symbol (id, function, file, line, module, kind) VALUES (?1, ?2, "
                  "?3, ?4, ?5, ?6)");
  Stmt ins_frame(db,
                 "INSERT OR IGNORE INTO frame_symbol (upid, pc, idx, symbol_id, inlined, "
                 "module_offset) VALUES (?1, ?2, ?3, ?4, ?5, ?6)");
  if (!ins_symbol.ok() || !ins_frame.ok()) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
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
  std::set<std::pair<int64_t, uint64_t>> done;
  // Reads stack tables only through the symbolizer's own lookups (stored symbols were just
  // deleted, so everything is computed from the files on disk).
  StackSymbolizer symbolizer(db);
  for (const auto& [upid, pc, ret] : addresses) {
    const uint64_t lookup_pc = ret ? pc - 1 : pc;
    if (!done.insert({upid, lookup_pc}).second) continue;
    const auto& frames = symbolizer.lookup(upid, pc, ret);
    ++summary.addresses;
    if (frames.size() == 1 && frames[0].kind != FrameKind::kNative &&
        frames[0].kind != FrameKind::kSymbolOnly) {
      ++summary.unresolved;
    }
    for (size_t idx = 0; idx < frames.size(); ++idx) {
      const Frame& f = frames[idx];
      const int64_t sid = symbol_id(f);
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
    if (!failure.ok()) break;
  }
  if (failure.ok()) {
    Status merged = store_merged(db, path, symbolizer, symbol_id, &summary);
    if (failure.ok()) failure = merged;  // a failed symbol insert inside set `failure` first
  }
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
  summary.symbols = static_cast<int64_t>(symbol_ids.size());
  summary.modules = symbolizer.modules_.modules_opened();
  return summary;
}

}  // namespace causeway::symbolize
