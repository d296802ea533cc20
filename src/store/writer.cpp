#include "store/writer.h"

#include <fcntl.h>
#include <sqlite3.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#include <cerrno>
#include <cstring>
#include <deque>
#include <functional>
#include <limits>
#include <optional>
#include <unordered_map>
#include <unordered_set>
#include <vector>

#include "store/reader.h"
#include "store/schema.h"

namespace causeway::store {
namespace {

constexpr int64_t kAlive = std::numeric_limits<int64_t>::max();
constexpr int64_t kMaxCommitIntervalNs = 1'000'000'000;
// Larger than SQLite's default (1000 pages): fewer checkpoints (each one fsyncs) during
// ingest, at the price of a WAL of up to ~32 MiB.
constexpr int kWalAutocheckpointBytes = 32 << 20;
constexpr int kCacheKiB = 32 * 1024;
constexpr int kBusyTimeoutMs = 10'000;

int64_t clock_ns(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// splitmix64 finaliser: cheap, well-mixed hashes for integer keys.
uint64_t mix(uint64_t x) {
  x += 0x9e3779b97f4a7c15ULL;
  x = (x ^ (x >> 30)) * 0xbf58476d1ce4e5b9ULL;
  x = (x ^ (x >> 27)) * 0x94d049bb133111ebULL;
  return x ^ (x >> 31);
}

struct StringHash {
  using is_transparent = void;
  size_t operator()(std::string_view s) const { return std::hash<std::string_view>{}(s); }
};

// (upid, value, extra) keys for streams and kernels.
struct Key3 {
  int64_t a = 0;
  uint64_t b = 0;
  int64_t c = 0;
  bool operator==(const Key3&) const = default;
};
struct Key3Hash {
  size_t operator()(const Key3& k) const {
    return mix(mix(mix(static_cast<uint64_t>(k.a)) ^ k.b) ^ static_cast<uint64_t>(k.c));
  }
};

struct ThreadEntry {
  int64_t utid = 0;
  int64_t upid = 0;
  int32_t pid = 0;
  int64_t end_ts = kAlive;  // absolute ns
  bool traced = false;
};

struct ProcessEntry {
  int64_t upid = 0;
  int64_t end_ts = kAlive;  // absolute ns
  bool traced = false;
};

struct KernelEntry {
  int64_t id = 0;
  bool named = false;
};

// One prepared statement, finalised on destruction.
class Statement {
 public:
  Statement() = default;
  ~Statement() { sqlite3_finalize(stmt_); }
  Statement(const Statement&) = delete;
  Statement& operator=(const Statement&) = delete;

  int prepare(sqlite3* db, const char* sql) {
    return sqlite3_prepare_v3(db, sql, -1, SQLITE_PREPARE_PERSISTENT, &stmt_, nullptr);
  }
  void finalize() {
    sqlite3_finalize(stmt_);
    stmt_ = nullptr;
  }
  sqlite3_stmt* get() const { return stmt_; }

  void i64(int idx, int64_t v) { sqlite3_bind_int64(stmt_, idx, v); }
  void null(int idx) { sqlite3_bind_null(stmt_, idx); }
  void text(int idx, std::string_view v) {
    sqlite3_bind_text(stmt_, idx, v.data(), static_cast<int>(v.size()), SQLITE_STATIC);
  }
  void opt_text(int idx, std::string_view v) {
    if (v.empty())
      null(idx);
    else
      text(idx, v);
  }
  template <typename T>
  void opt(int idx, const std::optional<T>& v) {
    if (v)
      i64(idx, static_cast<int64_t>(*v));
    else
      null(idx);
  }
  // Ids where 0 means "none".
  void id(int idx, int64_t v) {
    if (v != 0)
      i64(idx, v);
    else
      null(idx);
  }
  // Runs the statement to completion and resets it (bindings are overwritten by the next
  // use; text bindings are SQLITE_STATIC, so they must outlive only this call).
  int run() {
    int rc = sqlite3_step(stmt_);
    sqlite3_reset(stmt_);
    return rc == SQLITE_ROW ? SQLITE_DONE : rc;
  }

 private:
  sqlite3_stmt* stmt_ = nullptr;
};

// Rows of one hot event table, written through a multi-row "INSERT ... VALUES (...), (...)"
// statement: the per-statement costs (cursor allocation, halt, reset) are then paid once per
// kRows rows instead of per row, which is most of what separates SQLite from 1M rows/s.
// Values are staged here and bound when a statement's worth is ready; flush() writes the rest
// one row at a time (at commit). Ids are assigned here (column 0, the rowid) so add() can
// return them before the row reaches SQLite.
class BatchedInsert {
 public:
  static constexpr int kRows = 32;

  BatchedInsert() = default;
  BatchedInsert(const BatchedInsert&) = delete;
  BatchedInsert& operator=(const BatchedInsert&) = delete;

  // `columns` lists every column, the rowid ("id") first.
  int prepare(sqlite3* db, std::string_view table, std::string_view columns, int ncols) {
    ncols_ = ncols;
    values_.assign(static_cast<size_t>(kRows * ncols), Value{});
    std::string one = "(";
    for (int i = 0; i < ncols; ++i) one += i == 0 ? "?" : ", ?";
    one += ")";
    std::string head =
        "INSERT INTO " + std::string(table) + " (" + std::string(columns) + ") VALUES ";
    std::string many = head;
    for (int r = 0; r < kRows; ++r) many += (r == 0 ? "" : ", ") + one;
    int rc = single_.prepare(db, (head + one).c_str());
    if (rc == SQLITE_OK) rc = multi_.prepare(db, many.c_str());
    single_bound_.assign(static_cast<size_t>(ncols), Bound{});
    multi_bound_.assign(static_cast<size_t>(kRows * ncols), Bound{});
    return rc;
  }
  void finalize() {
    single_.finalize();
    multi_.finalize();
    single_bound_.assign(single_bound_.size(), Bound{});
    multi_bound_.assign(multi_bound_.size(), Bound{});
  }

  // Starts the next row and returns its id; set every other column before end_row().
  int64_t begin_row() {
    row_ = &values_[static_cast<size_t>(slot_ * ncols_)];
    row_[0] = {next_id_, false};
    return next_id_++;
  }
  void i64(int col, int64_t v) { row_[col] = {v, false}; }
  void null(int col) { row_[col].is_null = true; }
  template <typename T>
  void opt(int col, const std::optional<T>& v) {
    if (v)
      i64(col, static_cast<int64_t>(*v));
    else
      null(col);
  }
  void id(int col, int64_t v) {
    if (v != 0)
      i64(col, v);
    else
      null(col);
  }
  // Ends the row; writes a full statement when the stage is full. Returns a SQLite code.
  int end_row() {
    if (++slot_ < kRows) return SQLITE_DONE;
    slot_ = 0;
    return write(multi_, multi_bound_, 0, kRows);
  }
  // Writes the staged rows one by one. Returns a SQLite code.
  int flush() {
    int rc = SQLITE_DONE;
    for (int r = 0; r < slot_ && rc == SQLITE_DONE; ++r) rc = write(single_, single_bound_, r, 1);
    slot_ = 0;
    return rc;
  }
  // Drops staged rows (after a failure, nothing more is written).
  void discard() { slot_ = 0; }

 private:
  struct Value {
    int64_t v = 0;
    bool is_null = true;
  };
  // What a statement's parameter holds: bindings survive sqlite3_reset(), so a parameter
  // that already holds the value needs no sqlite3_bind_* call (each one releases the old
  // value and re-checks the statement: `vdbeUnbind` was a visible share of the writer's
  // profile). Most columns repeat from row to row (the same thread, function, stack; NULL
  // for what a call does not have), so this skips most binds.
  struct Bound {
    int64_t v = 0;
    bool is_null = false;
    bool known = false;  // false until first bound
  };
  int write(Statement& stmt, std::vector<Bound>& bound, int first_row, int rows) {
    const Value* v = &values_[static_cast<size_t>(first_row * ncols_)];
    Bound* b = bound.data();
    const int n = rows * ncols_;
    for (int i = 0; i < n; ++i) {
      if (v[i].is_null) {
        if (b[i].known && b[i].is_null) continue;
        stmt.null(i + 1);
        b[i] = {0, true, true};
      } else {
        if (b[i].known && !b[i].is_null && b[i].v == v[i].v) continue;
        stmt.i64(i + 1, v[i].v);
        b[i] = {v[i].v, false, true};
      }
    }
    return stmt.run();
  }

  Statement single_, multi_;
  std::vector<Bound> single_bound_, multi_bound_;
  std::vector<Value> values_;
  Value* row_ = nullptr;
  int ncols_ = 0;
  int slot_ = 0;
  int64_t next_id_ = 1;
};

std::string errno_text(int err) {
  return std::strerror(err);
}

std::string dir_of(const std::string& path) {
  auto slash = path.rfind('/');
  if (slash == std::string::npos) return ".";
  if (slash == 0) return "/";
  return path.substr(0, slash);
}

}  // namespace

struct Writer::Impl {
  sqlite3* db = nullptr;
  // An flock(LOCK_EX) on the file held while recording, so readers and
  // finish_interrupted_trace() can tell a live trace from a crashed one. flock locks are
  // independent of SQLite's fcntl locks, and the kernel drops this one when the process dies.
  int lock_fd = -1;
  std::string path;
  WriterOptions opts;
  Status failure;  // sticky: the first error, repeated by every later call
  bool closed = false;
  Status close_status;

  int64_t rows = 0;
  int64_t commit_count = 0;
  int64_t pending = 0;
  int64_t batch_start_ns = 0;  // CLOCK_MONOTONIC_COARSE of the last commit
  int64_t max_end_ts = std::numeric_limits<int64_t>::min();  // absolute ns
  int64_t last_upid = 0;  // process of the thread the last thread() call returned

  // Ids assigned here (not by SQLite) so interning can always answer, even after a failure.
  int64_t next_string = 1, next_stack = 1, next_utid = 1, next_upid = 1, next_stream = 1,
          next_kernel = 1, next_mapping = 1;

  std::deque<std::string> string_storage;  // index id-1; deque keeps views stable
  std::unordered_map<std::string_view, StringId, StringHash, std::equal_to<>> strings;
  std::unordered_map<std::string, StackId, StringHash, std::equal_to<>> stacks;
  std::unordered_map<std::string, StackId, StringHash, std::equal_to<>> py_stacks;
  int64_t next_py_stack = 1;
  std::string stack_key;                                // reused buffer: upid bytes + frame bytes
  std::unordered_map<int32_t, ThreadEntry> threads;     // by tid: the latest thread
  std::unordered_map<int32_t, ProcessEntry> processes;  // by pid: the latest process
  std::unordered_map<Key3, int64_t, Key3Hash> streams;
  std::unordered_map<Key3, KernelEntry, Key3Hash> kernels;
  std::unordered_set<std::string> mappings;
  std::unordered_set<int32_t> syscall_names;

  Statement begin, commit, rollback;
  BatchedInsert cuda_rows, state_rows, wakeup_rows, syscall_rows, cpu_slice_rows;
  Statement ins_block, ins_proc_event;
  Statement ins_string, ins_stack, ins_frame, ins_stream, ins_kernel, upd_kernel;
  Statement ins_py_stack, ins_py_frame;
  Statement ins_thread, upd_thread, ins_process, upd_process, ins_mapping, ins_meta,
      ins_syscall_name;

  ~Impl() { release(); }

  std::vector<BatchedInsert*> all_batched() {
    return {&cuda_rows, &state_rows, &wakeup_rows, &syscall_rows, &cpu_slice_rows};
  }

  void release() {
    for (Statement* s : all_statements()) s->finalize();
    for (BatchedInsert* b : all_batched()) b->finalize();
    if (db != nullptr) sqlite3_close_v2(db);
    db = nullptr;
    // Closed only after SQLite's connection: closing any descriptor of the file releases the
    // process's POSIX locks on it, SQLite's included.
    if (lock_fd >= 0) ::close(lock_fd);  // drops the "being recorded" flock
    lock_fd = -1;
  }

  std::vector<Statement*> all_statements() {
    return {&begin,       &commit,     &rollback,         &ins_block,    &ins_proc_event,
            &ins_string,  &ins_stack,  &ins_frame,        &ins_stream,   &ins_kernel,
            &upd_kernel,  &ins_thread, &upd_thread,       &ins_process,  &upd_process,
            &ins_mapping, &ins_meta,   &ins_syscall_name, &ins_py_stack, &ins_py_frame};
  }

  int64_t rel(int64_t ts_ns) const { return ts_ns - opts.origin_ns; }

  // Records the first failure; returns it.
  Status fail(int rc, std::string_view doing) {
    if (failure.ok()) {
      std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
      if (rc == SQLITE_FULL) {
        failure = Status::Error("Writing the trace database " + path +
                                " failed: the disk or the configured size limit is full; the "
                                "file stays valid and keeps everything committed before this "
                                "point.");
      } else {
        failure = Status::Error("Writing the trace database " + path + " failed while " +
                                std::string(doing) + ": " + why + ".");
      }
    }
    return failure;
  }

  bool check(int rc, std::string_view doing) {
    if (rc == SQLITE_DONE || rc == SQLITE_OK) return true;
    fail(rc, doing);
    return false;
  }

  Status exec(const std::string& sql, std::string_view doing) {
    char* err = nullptr;
    int rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err);
    sqlite3_free(err);
    if (rc != SQLITE_OK) return fail(rc, doing);
    return Status::Ok();
  }

  // Commits the open batch and, unless `reopen` is false, starts the next one.
  Status commit_now(bool reopen = true) {
    if (!failure.ok()) return failure;
    for (BatchedInsert* b : all_batched()) {
      if (!check(b->flush(), "writing a batch")) return failure;
    }
    if (!check(commit.run(), "committing a batch")) return failure;
    ++commit_count;
    pending = 0;
    batch_start_ns = clock_ns(CLOCK_MONOTONIC_COARSE);
    if (reopen && !check(begin.run(), "starting a batch")) return failure;
    return Status::Ok();
  }

  // Called after each row: commits when the batch is full or old enough.
  Status row_added() {
    ++rows;
    if (++pending >= opts.batch_rows ||
        clock_ns(CLOCK_MONOTONIC_COARSE) - batch_start_ns >= opts.commit_interval_ns) {
      return commit_now();
    }
    return Status::Ok();
  }

  void saw_end(int64_t ts, int64_t dur) {
    if (ts + dur > max_end_ts) max_end_ts = ts + dur;
  }

  // ---- processes and threads ------------------------------------------------------------

  // Whether an entry that may have ended still describes the task an event at `ts` names.
  // A task goes on acting after its exit tracepoint (an exiting thread's futex wake of its
  // joiner comes later; so do the last wakeups of a dying process), so events after the end
  // stay with it: one thread, one row. Only a start noted after the end (a fork or clone,
  // `starts`) begins a new task with the reused id.
  static bool current(int64_t end_ts, std::optional<int64_t> ts, bool starts) {
    return end_ts == kAlive || !starts || (ts && *ts <= end_ts);
  }

  int64_t process(int32_t pid, std::optional<int64_t> ts, bool traced, bool starts = false) {
    auto it = processes.find(pid);
    if (it != processes.end() && current(it->second.end_ts, ts, starts)) {
      if (traced && !it->second.traced) {
        it->second.traced = true;
        update_process(it->second.upid, {}, 0, {}, {}, {}, {}, {}, true);
      }
      return it->second.upid;
    }
    ProcessEntry e;
    e.upid = next_upid++;
    e.traced = traced;
    processes[pid] = e;
    if (failure.ok()) {
      ins_process.i64(1, e.upid);
      ins_process.i64(2, pid);
      ins_process.i64(3, traced ? 1 : 0);
      check(ins_process.run(), "adding a process");
    }
    return e.upid;
  }

  // The latest process with this pid, ended or not (for facts without a time: stacks and
  // mappings arriving after an exit still belong to the process that exited).
  int64_t latest_process(int32_t pid) {
    auto it = processes.find(pid);
    if (it != processes.end()) return it->second.upid;
    return process(pid, std::nullopt, false);
  }

  int64_t thread(int32_t pid, int32_t tid, std::optional<int64_t> ts, bool traced,
                 bool starts = false) {
    auto it = threads.find(tid);
    // A thread of an earlier process with the same pid (the pid was reused since) is not
    // this one: threads belong to the latest process of their pid.
    auto stale = [this](const ThreadEntry& e) {
      auto p = processes.find(e.pid);
      return p != processes.end() && p->second.upid > e.upid;
    };
    if (it != threads.end() && (pid == 0 || it->second.pid == pid) &&
        current(it->second.end_ts, ts, starts) && !stale(it->second)) {
      if (traced && !it->second.traced) {
        it->second.traced = true;
        update_thread(it->second.utid, {}, {}, {}, true);
        process(it->second.pid, ts, true);
      }
      last_upid = it->second.upid;
      return it->second.utid;
    }
    const int32_t owner = pid != 0 ? pid : tid;
    const int64_t upid = process(owner, ts, traced, starts);
    ThreadEntry e;
    e.utid = next_utid++;
    e.upid = upid;
    e.pid = owner;
    e.traced = traced;
    threads[tid] = e;
    last_upid = upid;
    if (failure.ok()) {
      ins_thread.i64(1, e.utid);
      ins_thread.i64(2, tid);
      ins_thread.i64(3, upid);
      ins_thread.i64(4, traced ? 1 : 0);
      check(ins_thread.run(), "adding a thread");
    }
    return e.utid;
  }

  // Other tasks (wakers, preempters): tid 0 is the idle task / interrupt context -> NULL.
  std::optional<int64_t> other_thread(std::optional<int32_t> pid, std::optional<int32_t> tid,
                                      int64_t ts) {
    if (!tid || *tid == 0) return std::nullopt;
    return thread(pid.value_or(0), *tid, ts, false);
  }

  void update_thread(int64_t utid, std::string_view name, std::optional<int64_t> start,
                     std::optional<int64_t> end, bool traced) {
    if (!failure.ok()) return;
    upd_thread.i64(1, utid);
    upd_thread.opt_text(2, name);
    if (start)
      upd_thread.i64(3, rel(*start));
    else
      upd_thread.null(3);
    if (end)
      upd_thread.i64(4, rel(*end));
    else
      upd_thread.null(4);
    upd_thread.i64(5, traced ? 1 : 0);
    check(upd_thread.run(), "updating a thread");
  }

  void update_process(int64_t upid, std::optional<int32_t> ppid, int64_t parent_upid,
                      std::string_view name, std::string_view cmdline, std::optional<int64_t> start,
                      std::optional<int64_t> end, std::optional<int32_t> exit_code, bool traced) {
    if (!failure.ok()) return;
    upd_process.i64(1, upid);
    upd_process.opt(2, ppid);
    upd_process.id(3, parent_upid);
    upd_process.opt_text(4, name);
    upd_process.opt_text(5, cmdline);
    if (start)
      upd_process.i64(6, rel(*start));
    else
      upd_process.null(6);
    if (end)
      upd_process.i64(7, rel(*end));
    else
      upd_process.null(7);
    upd_process.opt(8, exit_code);
    upd_process.i64(9, traced ? 1 : 0);
    check(upd_process.run(), "updating a process");
  }

  void end_thread(int32_t tid, int64_t ts) {
    auto it = threads.find(tid);
    if (it == threads.end() || it->second.end_ts != kAlive) return;
    it->second.end_ts = ts;
    update_thread(it->second.utid, {}, {}, ts, false);
  }

  void end_process(int32_t pid, int64_t ts, std::optional<int32_t> exit_code) {
    auto it = processes.find(pid);
    if (it == processes.end() || it->second.end_ts != kAlive) return;
    it->second.end_ts = ts;
    update_process(it->second.upid, {}, 0, {}, {}, {}, ts, exit_code, false);
  }

  // ---- interning ------------------------------------------------------------------------

  StringId intern(std::string_view s) {
    auto it = strings.find(s);
    if (it != strings.end()) return it->second;
    const StringId id = next_string++;
    string_storage.emplace_back(s);
    strings.emplace(std::string_view(string_storage.back()), id);
    if (failure.ok()) {
      ins_string.i64(1, id);
      ins_string.text(2, string_storage.back());
      check(ins_string.run(), "adding a string");
    }
    return id;
  }

  std::string_view string_of(StringId id) const {
    if (id <= 0 || id > static_cast<int64_t>(string_storage.size())) return {};
    return string_storage[static_cast<size_t>(id - 1)];
  }

  StackId intern_stack(int32_t pid, std::span<const uint64_t> frames) {
    if (frames.empty()) return 0;
    const int64_t upid = latest_process(pid);
    stack_key.assign(reinterpret_cast<const char*>(&upid), sizeof upid);
    stack_key.append(reinterpret_cast<const char*>(frames.data()), frames.size_bytes());
    auto it = stacks.find(std::string_view(stack_key));
    if (it != stacks.end()) return it->second;
    const StackId id = next_stack++;
    stacks.emplace(stack_key, id);
    if (failure.ok()) {
      ins_stack.i64(1, id);
      ins_stack.i64(2, upid);
      ins_stack.i64(3, static_cast<int64_t>(frames.size()));
      if (!check(ins_stack.run(), "adding a stack")) return id;
      for (size_t i = 0; i < frames.size(); ++i) {
        ins_frame.i64(1, id);
        ins_frame.i64(2, static_cast<int64_t>(i));
        ins_frame.i64(3, static_cast<int64_t>(frames[i]));
        if (!check(ins_frame.run(), "adding a stack frame")) break;
      }
    }
    return id;
  }

  // Python stacks are deduplicated like native ones, by (process, frames' content).
  StackId intern_py_stack(int32_t pid, std::span<const PyFrameRow> frames) {
    if (frames.empty()) return 0;
    const int64_t upid = latest_process(pid);
    std::string key(reinterpret_cast<const char*>(&upid), sizeof upid);
    for (const PyFrameRow& f : frames) {
      key.append(f.function).push_back('\0');
      key.append(f.file).push_back('\0');
      key.append(reinterpret_cast<const char*>(&f.line), sizeof f.line);
      key.push_back(f.entry ? '1' : '0');
    }
    auto it = py_stacks.find(std::string_view(key));
    if (it != py_stacks.end()) return it->second;
    const StackId id = next_py_stack++;
    py_stacks.emplace(std::move(key), id);
    if (failure.ok()) {
      ins_py_stack.i64(1, id);
      ins_py_stack.i64(2, upid);
      ins_py_stack.i64(3, static_cast<int64_t>(frames.size()));
      if (!check(ins_py_stack.run(), "adding a Python stack")) return id;
      for (size_t i = 0; i < frames.size(); ++i) {
        const PyFrameRow& f = frames[i];
        ins_py_frame.i64(1, id);
        ins_py_frame.i64(2, static_cast<int64_t>(i));
        ins_py_frame.text(3, f.function);
        ins_py_frame.opt_text(4, f.file);
        if (f.line >= 0)
          ins_py_frame.i64(5, f.line);
        else
          ins_py_frame.null(5);
        ins_py_frame.i64(6, f.entry ? 1 : 0);
        if (!check(ins_py_frame.run(), "adding a Python frame")) break;
      }
    }
    return id;
  }

  std::optional<int64_t> stream(int64_t upid, std::optional<uint64_t> handle) {
    if (!handle) return std::nullopt;
    Key3 key{upid, *handle, 0};
    auto it = streams.find(key);
    if (it != streams.end()) return it->second;
    const int64_t id = next_stream++;
    streams.emplace(key, id);
    if (failure.ok()) {
      ins_stream.i64(1, id);
      ins_stream.i64(2, upid);
      ins_stream.i64(3, static_cast<int64_t>(*handle));
      check(ins_stream.run(), "adding a stream");
    }
    return id;
  }

  // Kernels are keyed by (process, host function address); a name resolved later is filled
  // in. Without an address, by (process, name).
  std::optional<int64_t> kernel(int64_t upid, std::optional<uint64_t> addr, StringId name) {
    if (!addr && name == 0) return std::nullopt;
    Key3 key{upid, addr.value_or(0), addr ? 0 : name};
    auto it = kernels.find(key);
    if (it != kernels.end()) {
      if (name != 0 && !it->second.named && failure.ok()) {
        it->second.named = true;
        upd_kernel.i64(1, it->second.id);
        upd_kernel.i64(2, name);
        check(upd_kernel.run(), "naming a kernel");
      }
      return it->second.id;
    }
    const int64_t id = next_kernel++;
    kernels.emplace(key, KernelEntry{id, name != 0});
    if (failure.ok()) {
      ins_kernel.i64(1, id);
      ins_kernel.i64(2, upid);
      ins_kernel.opt(3, addr);
      ins_kernel.id(4, name);
      check(ins_kernel.run(), "adding a kernel");
    }
    return id;
  }

  Result<RowId> staged(BatchedInsert& rows, RowId id, std::string_view doing) {
    if (!check(rows.end_row(), doing)) return failure;
    Status st = row_added();
    if (!st.ok()) return st;
    return id;
  }

  Result<RowId> inserted(Statement& stmt, std::string_view doing) {
    if (!check(stmt.run(), doing)) return failure;
    const RowId id = sqlite3_last_insert_rowid(db);
    Status st = row_added();
    if (!st.ok()) return st;
    return id;
  }

  Status set_meta(std::string_view key, std::string_view value) {
    if (!failure.ok()) return failure;
    ins_meta.text(1, key);
    ins_meta.text(2, value);
    if (!check(ins_meta.run(), "writing meta")) return failure;
    return Status::Ok();
  }

  Status prepare_all();
};

Status Writer::Impl::prepare_all() {
  struct Def {
    Statement* stmt;
    const char* sql;
  };
  const Def defs[] = {
      {&begin, "BEGIN"},
      {&commit, "COMMIT"},
      {&rollback, "ROLLBACK"},
      {&ins_block,
       "INSERT INTO block_io (ts, dur, queue_dur, service_dur, utid, dev, sector, bytes, op, "
       "error) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9, ?10)"},
      {&ins_proc_event,
       "INSERT INTO process_event (ts, kind, upid, utid, other_upid, exit_code, filename_id) "
       "VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7)"},
      {&ins_string, "INSERT INTO string (id, str) VALUES (?1, ?2)"},
      {&ins_stack, "INSERT INTO stack (id, upid, depth) VALUES (?1, ?2, ?3)"},
      {&ins_frame, "INSERT INTO stack_frame (stack_id, depth, pc) VALUES (?1, ?2, ?3)"},
      {&ins_py_stack, "INSERT INTO python_stack (id, upid, depth) VALUES (?1, ?2, ?3)"},
      {&ins_py_frame,
       "INSERT INTO python_frame (stack_id, depth, function, file, line, entry) VALUES (?1, ?2, "
       "?3, ?4, ?5, ?6)"},
      {&ins_stream, "INSERT INTO cuda_stream (id, upid, handle) VALUES (?1, ?2, ?3)"},
      {&ins_kernel, "INSERT INTO cuda_kernel (id, upid, addr, name_id) VALUES (?1, ?2, ?3, ?4)"},
      {&upd_kernel, "UPDATE cuda_kernel SET name_id = ?2 WHERE id = ?1"},
      {&ins_thread, "INSERT INTO thread (utid, tid, upid, traced) VALUES (?1, ?2, ?3, ?4)"},
      {&upd_thread,
       "UPDATE thread SET name = coalesce(?2, name), start_ts = coalesce(?3, start_ts), "
       "end_ts = coalesce(?4, end_ts), traced = max(traced, ?5) WHERE utid = ?1"},
      {&ins_process, "INSERT INTO process (upid, pid, traced) VALUES (?1, ?2, ?3)"},
      {&upd_process,
       "UPDATE process SET ppid = coalesce(?2, ppid), parent_upid = coalesce(?3, parent_upid), "
       "name = coalesce(?4, name), cmdline = coalesce(?5, cmdline), start_ts = coalesce(?6, "
       "start_ts), end_ts = coalesce(?7, end_ts), exit_code = coalesce(?8, exit_code), traced "
       "= max(traced, ?9) WHERE upid = ?1"},
      {&ins_mapping,
       "INSERT INTO mapping (id, upid, start_addr, end_addr, file_offset, path, build_id, "
       "file_size, file_mtime_ns) VALUES (?1, ?2, ?3, ?4, ?5, ?6, ?7, ?8, ?9)"},
      {&ins_meta, "INSERT OR REPLACE INTO meta (key, value) VALUES (?1, ?2)"},
      {&ins_syscall_name, "INSERT OR IGNORE INTO syscall_name (nr, name) VALUES (?1, ?2)"},
  };
  for (const Def& d : defs) {
    int rc = d.stmt->prepare(db, d.sql);
    if (rc != SQLITE_OK) return fail(rc, "preparing statements");
  }
  struct BatchedDef {
    BatchedInsert* rows;
    const char* table;
    const char* columns;
    int ncols;
  };
  const BatchedDef batched[] = {
      {&cuda_rows, "cuda_call",
       "id, ts, dur, utid, function_id, ret, stream_id, kernel_id, grid, block, bytes, "
       "copy_kind, device_ptr, host_ptr, stack_id, py_stack_id",
       16},
      {&state_rows, "thread_state",
       "id, ts, dur, utid, state, cpu, kernel_state, syscall_nr, syscall_id, waker_utid, "
       "preempter_utid, stack_id, py_stack_id, waker_context",
       14},
      {&wakeup_rows, "wakeup", "id, ts, wakee_utid, waker_utid, target_cpu, waker_context", 6},
      {&cpu_slice_rows, "cpu_slice", "id, ts, dur, cpu, utid", 5},
      {&syscall_rows, "syscall", "id, ts, dur, utid, nr, ret, fd, bytes, addr, op, stack_id", 11},
  };
  for (const BatchedDef& b : batched) {
    int rc = b.rows->prepare(db, b.table, b.columns, b.ncols);
    if (rc != SQLITE_OK) return fail(rc, "preparing statements");
  }
  return Status::Ok();
}

Writer::Writer(std::unique_ptr<Impl> impl) : impl_(std::move(impl)) {}

Writer::~Writer() {
  if (impl_ && !impl_->closed) (void)close();
}

Result<std::unique_ptr<Writer>> Writer::create(const std::string& path, const WriterOptions& opts) {
  if (path.empty()) return Status::Error("No trace database path was given.");
  struct stat info {};
  if (lstat(path.c_str(), &info) == 0) {
    if (S_ISDIR(info.st_mode)) {
      return Status::Error(path + " is a directory; give a file path for the trace database.");
    }
    if (!opts.overwrite) {
      return Status::Error(path +
                           " already exists; refusing to overwrite it (remove it, choose "
                           "another path, or ask to overwrite).");
    }
    const int busy_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
    if (busy_fd >= 0) {
      const bool busy = flock(busy_fd, LOCK_EX | LOCK_NB) != 0 && errno == EWOULDBLOCK;
      ::close(busy_fd);
      if (busy) {
        return Status::Error(path +
                             " is being recorded by another causeway process; refusing "
                             "to overwrite it.");
      }
    }
    for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
      std::string p = path + suffix;
      if (unlink(p.c_str()) != 0 && errno != ENOENT) {
        return Status::Error("Cannot overwrite " + p + ": " + errno_text(errno) + ".");
      }
    }
  }
  // Create the file ourselves first: SQLite's "unable to open database file" does not say
  // why, errno does.
  int fd = open(path.c_str(), O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0644);
  if (fd < 0) {
    const int err = errno;
    return Status::Error("Cannot create the trace database " + path + ": " + errno_text(err) +
                         " (check that the directory " + dir_of(path) +
                         " exists and is writable).");
  }
  auto impl = std::make_unique<Impl>();
  impl->lock_fd = fd;
  if (flock(fd, LOCK_EX | LOCK_NB) != 0) {
    impl->release();
    unlink(path.c_str());
    return Status::Error("Cannot lock the new trace database " + path + ": " + errno_text(errno) +
                         ".");
  }
  impl->path = path;
  impl->opts = opts;
  if (impl->opts.commit_interval_ns <= 0 || impl->opts.commit_interval_ns > kMaxCommitIntervalNs) {
    impl->opts.commit_interval_ns = kMaxCommitIntervalNs;
  }
  if (impl->opts.batch_rows <= 0) impl->opts.batch_rows = 1;
  const int ps = impl->opts.page_size;
  if (ps < 512 || ps > 65536 || (ps & (ps - 1)) != 0) impl->opts.page_size = 16384;

  auto give_up = [&](Status st) -> Result<std::unique_ptr<Writer>> {
    impl->release();
    unlink(path.c_str());
    unlink((path + "-wal").c_str());
    unlink((path + "-shm").c_str());
    return st;
  };

  int rc = sqlite3_open_v2(path.c_str(), &impl->db, SQLITE_OPEN_READWRITE | SQLITE_OPEN_NOMUTEX,
                           nullptr);
  if (rc != SQLITE_OK) return give_up(impl->fail(rc, "opening it"));
  // Readers (the MCP server, explain) may hold the file briefly; wait for them, don't fail.
  sqlite3_busy_timeout(impl->db, kBusyTimeoutMs);

  // Identity, schema and initial meta are written in rollback-journal mode, straight into the
  // main file, so even a reader that looks at the raw header sees a causeway file at once.
  const int64_t mono = clock_ns(CLOCK_MONOTONIC);
  const int64_t offset = clock_ns(CLOCK_REALTIME) - mono;
  const int page_size = impl->opts.page_size;
  std::string setup = "PRAGMA page_size = " + std::to_string(page_size) +
                      ";\nPRAGMA application_id = " + std::to_string(kApplicationId) +
                      ";\nPRAGMA user_version = " + std::to_string(kSchemaVersion) + ";\nBEGIN;\n" +
                      schema_ddl() + "COMMIT;\n";
  Status st = impl->exec(setup, "creating the schema");
  if (!st.ok()) return give_up(st);
  st = impl->exec(
      "PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL; "
      "PRAGMA wal_autocheckpoint = " +
          std::to_string(kWalAutocheckpointBytes / page_size) + "; PRAGMA cache_size = -" +
          std::to_string(kCacheKiB) + ";",
      "configuring the journal");
  if (!st.ok()) return give_up(st);
  if (opts.max_db_bytes > 0) {
    const int64_t pages = std::max<int64_t>(opts.max_db_bytes / page_size, 8);
    st = impl->exec("PRAGMA max_page_count = " + std::to_string(pages) + ";", "limiting size");
    if (!st.ok()) return give_up(st);
  }
  st = impl->prepare_all();
  if (!st.ok()) return give_up(st);

  utsname un{};
  uname(&un);
  if (!impl->check(impl->begin.run(), "starting")) return give_up(impl->failure);
  const std::pair<std::string, std::string> initial[] = {
      {"schema_version", std::to_string(kSchemaVersion)},
      {"origin_monotonic_ns", std::to_string(opts.origin_ns)},
      {"realtime_offset_ns", std::to_string(offset)},
      {"origin_realtime_ns", std::to_string(opts.origin_ns + offset)},
      {"host", un.nodename},
      {"kernel_release", un.release},
      {"complete", "0"},
      {"indexed", "0"},
  };
  for (const auto& [k, v] : initial) {
    st = impl->set_meta(k, v);
    if (!st.ok()) return give_up(st);
  }
  // Commit the identity now so a trace killed before its first batch is still recognisable.
  impl->batch_start_ns = clock_ns(CLOCK_MONOTONIC_COARSE);
  st = impl->commit_now();
  if (!st.ok()) return give_up(st);
  impl->commit_count = 0;
  return std::unique_ptr<Writer>(new Writer(std::move(impl)));
}

StringId Writer::intern(std::string_view s) {
  return impl_->intern(s);
}

StackId Writer::intern_stack(int32_t pid, std::span<const uint64_t> frames) {
  return impl_->intern_stack(pid, frames);
}

StackId Writer::intern_py_stack(int32_t pid, std::span<const PyFrameRow> frames) {
  return impl_->intern_py_stack(pid, frames);
}

Result<RowId> Writer::add(const CudaCallRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t utid = m.thread(r.pid, r.tid, r.ts_ns, true);
  const int64_t upid = m.last_upid;
  const auto stream = m.stream(upid, r.stream);
  const auto kernel = m.kernel(upid, r.kernel_addr, r.kernel);
  const bool launch =
      (r.grid[0] | r.grid[1] | r.grid[2] | r.block[0] | r.block[1] | r.block[2]) != 0;
  BatchedInsert& s = m.cuda_rows;
  const RowId id = s.begin_row();
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, r.dur_ns);
  s.i64(3, utid);
  s.i64(4, r.function);
  s.i64(5, r.ret);
  s.opt(6, stream);
  s.opt(7, kernel);
  if (launch) {
    s.i64(8, pack_dim3(r.grid));
    s.i64(9, pack_dim3(r.block));
  } else {
    s.null(8);
    s.null(9);
  }
  s.opt(10, r.bytes);
  s.opt(11, r.copy_kind);
  s.opt(12, r.device_ptr);
  s.opt(13, r.host_ptr);
  s.id(14, r.stack);
  s.id(15, r.py_stack);
  m.saw_end(r.ts_ns, r.dur_ns);
  return m.staged(s, id, "adding a CUDA call");
}

Result<RowId> Writer::add(const ThreadStateRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t utid = m.thread(r.pid, r.tid, r.ts_ns, true);
  const auto waker = m.other_thread(r.waker_pid, r.waker_tid, r.ts_ns);
  const auto preempter = m.other_thread(r.preempter_pid, r.preempter_tid, r.ts_ns);
  BatchedInsert& s = m.state_rows;
  const RowId id = s.begin_row();
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, r.dur_ns);
  s.i64(3, utid);
  s.i64(4, static_cast<int64_t>(r.state));
  if (r.cpu >= 0)
    s.i64(5, r.cpu);
  else
    s.null(5);
  if (r.state != ThreadState::kRunning)
    s.i64(6, r.kernel_state);
  else
    s.null(6);
  s.opt(7, r.syscall_nr);
  s.opt(8, r.syscall_row);
  s.opt(9, waker);
  s.opt(10, preempter);
  s.id(11, r.stack);
  s.id(12, r.py_stack);
  if (r.waker_context)
    s.i64(13, static_cast<int64_t>(*r.waker_context));
  else
    s.null(13);
  m.saw_end(r.ts_ns, r.dur_ns);
  return m.staged(s, id, "adding a thread state");
}

Result<RowId> Writer::add(const WakeupRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t wakee = m.thread(r.wakee_pid, r.wakee_tid, r.ts_ns, true);
  const auto waker = m.other_thread(r.waker_pid, r.waker_tid, r.ts_ns);
  BatchedInsert& s = m.wakeup_rows;
  const RowId id = s.begin_row();
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, wakee);
  s.opt(3, waker);
  if (r.target_cpu >= 0)
    s.i64(4, r.target_cpu);
  else
    s.null(4);
  if (r.waker_context)
    s.i64(5, static_cast<int64_t>(*r.waker_context));
  else
    s.null(5);
  m.saw_end(r.ts_ns, 0);
  return m.staged(s, id, "adding a wakeup");
}

Result<RowId> Writer::add(const CpuSliceRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const auto holder = m.other_thread(r.pid, r.tid, r.ts_ns);
  BatchedInsert& s = m.cpu_slice_rows;
  const RowId id = s.begin_row();
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, r.dur_ns);
  s.i64(3, r.cpu);
  s.opt(4, holder);
  m.saw_end(r.ts_ns, r.dur_ns);
  return m.staged(s, id, "adding a CPU slice");
}

Result<RowId> Writer::add(const SyscallRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t utid = m.thread(r.pid, r.tid, r.ts_ns, true);
  if (r.name != 0) {
    if (Status s = note_syscall_name(r.nr, m.string_of(r.name)); !s.ok()) return s;
  }
  BatchedInsert& s = m.syscall_rows;
  const RowId id = s.begin_row();
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, r.dur_ns);
  s.i64(3, utid);
  s.i64(4, r.nr);
  s.i64(5, r.ret);
  s.opt(6, r.fd);
  s.opt(7, r.bytes);
  s.opt(8, r.addr);
  s.opt(9, r.op);
  s.id(10, r.stack);
  m.saw_end(r.ts_ns, r.dur_ns);
  return m.staged(s, id, "adding a syscall");
}

Result<RowId> Writer::add(const BlockIoRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  // Completion-side attribution may know only the process: charge its main thread.
  const int64_t utid = m.thread(r.pid, r.tid != 0 ? r.tid : r.pid, r.ts_ns, true);
  const char op[2] = {r.op, '\0'};
  Statement& s = m.ins_block;
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, r.dur_ns);
  s.i64(3, r.queue_ns);
  s.i64(4, r.service_ns);
  s.i64(5, utid);
  s.i64(6, r.dev);
  s.i64(7, static_cast<int64_t>(r.sector));
  s.i64(8, r.bytes);
  s.text(9, std::string_view(op, 1));
  s.i64(10, r.error);
  m.saw_end(r.ts_ns, r.dur_ns);
  return m.inserted(s, "adding a block I/O request");
}

Result<RowId> Writer::add(const ProcessEventRow& r) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t upid = m.process(r.pid, r.ts_ns, true);
  std::optional<int64_t> utid;
  if (r.tid != 0) utid = m.thread(r.pid, r.tid, r.ts_ns, true);
  std::optional<int64_t> other;
  if (r.other_pid != 0 && r.kind == ProcessEventKind::kFork) {
    // A child traced by inheritance; it may already exist if its own events arrived first.
    other = m.process(r.other_pid, r.ts_ns, true, /*starts=*/true);
    m.update_process(*other, r.pid, upid, {}, {}, r.ts_ns, {}, {}, true);
  } else if (r.other_pid != 0) {
    other = m.process(r.other_pid, r.ts_ns, false);
  }
  Statement& s = m.ins_proc_event;
  s.i64(1, m.rel(r.ts_ns));
  s.i64(2, static_cast<int64_t>(r.kind));
  s.i64(3, upid);
  s.opt(4, utid);
  s.opt(5, other);
  if (r.kind == ProcessEventKind::kExit)
    s.i64(6, r.exit_code);
  else
    s.null(6);
  s.id(7, r.filename);
  m.saw_end(r.ts_ns, 0);
  Result<RowId> id = m.inserted(s, "adding a process event");
  if (id.ok() && r.kind == ProcessEventKind::kExit) {
    // The row above still refers to the exiting task; only later events start a new one.
    // kExit is the exit of the whole process (the last thread, which need not be the main
    // one); that thread ends with it. Other threads end through note_thread(end_ts_ns).
    if (r.tid != 0) m.end_thread(r.tid, r.ts_ns);
    m.end_process(r.pid, r.ts_ns, r.exit_code);
    if (!m.failure.ok()) return m.failure;
  }
  return id;
}

Status Writer::note_thread(const ThreadInfo& info) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const std::optional<int64_t> when = info.start_ts_ns ? info.start_ts_ns : info.end_ts_ns;
  const int64_t utid =
      m.thread(info.pid, info.tid, when, info.traced, info.start_ts_ns.has_value());
  m.update_thread(utid, info.comm, info.start_ts_ns, info.end_ts_ns, info.traced);
  if (info.end_ts_ns) {
    auto it = m.threads.find(info.tid);
    if (it != m.threads.end() && it->second.utid == utid) it->second.end_ts = *info.end_ts_ns;
  }
  return m.failure;
}

Status Writer::note_process(const ProcessInfo& info) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const std::optional<int64_t> when = info.start_ts_ns ? info.start_ts_ns : info.end_ts_ns;
  const int64_t upid = m.process(info.pid, when, info.traced, info.start_ts_ns.has_value());
  int64_t parent_upid = 0;
  if (info.ppid != 0) parent_upid = m.process(info.ppid, when, false);
  m.update_process(upid, info.ppid != 0 ? std::optional<int32_t>(info.ppid) : std::nullopt,
                   parent_upid, info.name, info.cmdline, info.start_ts_ns, info.end_ts_ns,
                   info.exit_code, info.traced);
  if (info.end_ts_ns) {
    auto it = m.processes.find(info.pid);
    if (it != m.processes.end() && it->second.upid == upid) it->second.end_ts = *info.end_ts_ns;
  }
  return m.failure;
}

Status Writer::note_mapping(const MappingInfo& info) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  const int64_t upid = m.latest_process(info.pid);
  std::string key = std::to_string(upid) + ':' + std::to_string(info.start) + ':' +
                    std::to_string(info.end) + ':' + std::to_string(info.file_offset) + ':' +
                    info.path;
  if (!m.mappings.insert(std::move(key)).second) return Status::Ok();
  Statement& s = m.ins_mapping;
  s.i64(1, m.next_mapping++);
  s.i64(2, upid);
  s.i64(3, static_cast<int64_t>(info.start));
  s.i64(4, static_cast<int64_t>(info.end));
  s.i64(5, static_cast<int64_t>(info.file_offset));
  s.opt_text(6, info.path);
  s.opt_text(7, info.build_id);
  // The stamp stands in for a missing build-id only (schema: NULL when there is one), and
  // half a stamp identifies nothing: both columns or neither.
  const bool stamped = info.build_id.empty() && info.file_size && info.file_mtime_ns;
  s.opt(8, stamped ? info.file_size : std::nullopt);
  s.opt(9, stamped ? info.file_mtime_ns : std::nullopt);
  m.check(s.run(), "adding a mapping");
  return m.failure;
}

Status Writer::set_meta(std::string_view key, std::string_view value) {
  return impl_->set_meta(key, value);
}

Status Writer::note_syscall_name(int32_t nr, std::string_view name) {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  if (!m.syscall_names.insert(nr).second) return Status::Ok();
  m.ins_syscall_name.i64(1, nr);
  m.ins_syscall_name.text(2, name);
  if (!m.check(m.ins_syscall_name.run(), "adding a syscall name")) return m.failure;
  return Status::Ok();
}

Status Writer::commit_if_due() {
  Impl& m = *impl_;
  if (!m.failure.ok()) return m.failure;
  if (m.pending > 0 &&
      clock_ns(CLOCK_MONOTONIC_COARSE) - m.batch_start_ns >= m.opts.commit_interval_ns) {
    return m.commit_now();
  }
  return Status::Ok();
}

Status Writer::flush() {
  Impl& m = *impl_;
  if (m.closed) return Status::Error("The trace database " + m.path + " is already closed.");
  return m.commit_now();
}

Status Writer::close() {
  Impl& m = *impl_;
  if (m.closed) return m.close_status;
  m.closed = true;
  if (m.failure.ok()) {
    (void)m.commit_now(/*reopen=*/false);
  } else if (m.db != nullptr && sqlite3_get_autocommit(m.db) == 0) {
    for (BatchedInsert* b : m.all_batched()) b->discard();
    // Keep what the failed batch managed to write if the disk allows; otherwise drop it.
    if (m.commit.run() != SQLITE_DONE) m.rollback.run();
  }
  for (Statement* s : m.all_statements()) s->finalize();
  for (BatchedInsert* b : m.all_batched()) b->finalize();
  if (m.db != nullptr) {
    // Back to a single self-contained file (checkpoints and removes the WAL), so the finished
    // trace can be copied as one file and opened on read-only media. Done before building the
    // indexes so their pages are written once, into the main file, instead of into the WAL
    // and again by a checkpoint. If it fails (a reader still has the file open, or the disk is
    // full) the file simply stays a valid WAL database.
    sqlite3_exec(m.db, "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr);
  }
  if (m.failure.ok()) {
    // Indexes and the end-of-trace facts go in one transaction: a trace is marked complete
    // only together with its indexes.
    std::string sql = "BEGIN;\n";
    if (m.opts.index_on_close) sql += schema_index_ddl();
    auto quote = [](const std::string& v) { return "'" + v + "'"; };
    const int64_t end =
        m.max_end_ts == std::numeric_limits<int64_t>::min() ? 0 : m.rel(m.max_end_ts);
    sql += "INSERT OR REPLACE INTO meta VALUES ('end_ts', " + quote(std::to_string(end)) +
           "), ('complete', '1'), ('indexed', " + quote(m.opts.index_on_close ? "1" : "0") +
           ");\nCOMMIT;\n";
    if (!m.exec(sql, "finishing the trace").ok()) m.exec("ROLLBACK", "rolling back");
  }
  m.close_status = m.failure;
  m.release();
  return m.close_status;
}

int64_t Writer::rows_written() const {
  return impl_->rows;
}
int64_t Writer::commits() const {
  return impl_->commit_count;
}
const std::string& Writer::path() const {
  return impl_->path;
}

Status finish_interrupted_trace(const std::string& path) {
  {
    auto reader = Reader::open(path);  // the same checks and sentences as every reader
    if (!reader.ok()) return reader.status();
  }
  // Held until return: a live recorder holds it, and two finishers must not collide.
  const int lock_fd = ::open(path.c_str(), O_RDONLY | O_CLOEXEC);
  if (lock_fd < 0) {
    return Status::Error("Cannot open " + path + ": " + errno_text(errno) + ".");
  }
  if (flock(lock_fd, LOCK_EX | LOCK_NB) != 0) {
    ::close(lock_fd);
    return Status::Error(path +
                         " is still being recorded (or finished) by another causeway "
                         "process; wait for it to stop.");
  }
  sqlite3* db = nullptr;
  int rc = sqlite3_open_v2(path.c_str(), &db, SQLITE_OPEN_READWRITE, nullptr);
  auto fail = [&](std::string_view doing) {
    std::string why = db != nullptr ? sqlite3_errmsg(db) : sqlite3_errstr(rc);
    sqlite3_close_v2(db);
    ::close(lock_fd);
    return Status::Error("Cannot finish the trace database " + path + " while " +
                         std::string(doing) + ": " + why + ".");
  };
  if (rc != SQLITE_OK) return fail("opening it for writing");
  sqlite3_busy_timeout(db, kBusyTimeoutMs);
  harden_trace_connection(db);  // a file being finished may have been altered: no triggers
  rc = sqlite3_exec(db, "PRAGMA journal_mode = DELETE", nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) return fail("folding the WAL into the file");
  const std::string sql = "BEGIN;\n" + schema_index_ddl() +
                          "INSERT OR REPLACE INTO meta VALUES ('indexed', '1');\nCOMMIT;\n";
  rc = sqlite3_exec(db, sql.c_str(), nullptr, nullptr, nullptr);
  if (rc != SQLITE_OK) {
    sqlite3_exec(db, "ROLLBACK", nullptr, nullptr, nullptr);
    return fail("building the indexes");
  }
  sqlite3_close_v2(db);
  ::close(lock_fd);
  return Status::Ok();
}

}  // namespace causeway::store
