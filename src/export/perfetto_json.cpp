#include "export/perfetto_json.h"

#include <sqlite3.h>

#include <algorithm>
#include <limits>
#include <map>
#include <memory>
#include <nlohmann/json.hpp>
#include <string_view>
#include <tuple>
#include <unordered_map>
#include <unordered_set>
#include <utility>

#include "export/json_stream.h"
#include "export/stack_line.h"
#include "store/cpu_holders.h"
#include "store/schema.h"
#include "store/sql_util.h"
#include "symbolize/stack_symbols.h"

namespace causeway::timeline {
namespace {

// Chains whose subject has no process (pid 0) go to one pseudo process; kernel pids are
// < 2^22, so this never collides with a real one.
constexpr int64_t kChainProcessPid = 0x7ffffff0;
// The per-CPU holder tracks (cpu_slice) live in one pseudo process of their own.
constexpr int64_t kCpuProcessPid = 0x7ffffff1;
// Holders listed in a runnable slice's args; the rest are summed.
constexpr size_t kListedHolders = 5;

using store::sql::Stmt;

// One sentence for a query on the trace that failed.
Status read_error(sqlite3* db, const char* what) {
  return Status::Error(std::string("reading the ") + what +
                       " from the trace failed: " + sqlite3_errmsg(db) + ".");
}

// Lanes of one track: each lane is a stack of the end times of the open slices. A slice goes
// to the first lane where it nests (ends no later than the innermost open slice there).
class Lanes {
 public:
  void reset() { lanes_.clear(); }
  int place(int64_t ts, int64_t end) {
    for (size_t i = 0; i < lanes_.size(); ++i) {
      auto& open = lanes_[i];
      while (!open.empty() && open.back() <= ts) open.pop_back();
      if (open.empty() || end <= open.back()) {
        open.push_back(end);
        return static_cast<int>(i);
      }
    }
    if (lanes_.size() < static_cast<size_t>(kMaxLanes)) {
      lanes_.push_back({end});
      return static_cast<int>(lanes_.size() - 1);
    }
    // More than kMaxLanes concurrent partial overlaps: pathological data. The last lane
    // takes it (it may mis-nest there) rather than dropping an event.
    lanes_.back() = {end};
    return kMaxLanes - 1;
  }

 private:
  std::vector<std::vector<int64_t>> lanes_;
};

std::string state_track_suffix(TrackKind kind) {
  switch (kind) {
    case TrackKind::kCuda:
      return "";
    case TrackKind::kState:
      return " [state]";
    case TrackKind::kSyscall:
      return " [syscalls]";
    case TrackKind::kBlockIo:
      return "";
    case TrackKind::kChain:
      return " [chains]";
    case TrackKind::kCpu:
      return "";
  }
  return "";
}

std::string task_label(std::string_view name, std::optional<int64_t> pid, int64_t tid) {
  std::string s = name.empty() ? "?" : std::string(name);
  s += " (";
  if (pid && *pid != tid) s += "pid " + std::to_string(*pid) + ", ";
  s += "tid " + std::to_string(tid) + ")";
  return s;
}

class Exporter {
 public:
  Exporter(sqlite3* db, const ExportOptions& o, std::FILE* out) : db_(db), opts_(o), w_(out) {
    since_ = o.since_ns.value_or(std::numeric_limits<int64_t>::min() / 2);
    until_ = o.until_ns.value_or(std::numeric_limits<int64_t>::max() / 2);
    if (!o.pids.empty()) {
      pid_filter_ = " AND p.pid IN (";
      for (size_t i = 0; i < o.pids.size(); ++i) {
        if (i) pid_filter_ += ",";
        pid_filter_ += std::to_string(o.pids[i]);
      }
      pid_filter_ += ")";
    }
  }

  Result<ExportSummary> run() {
    w_.begin_object();
    w_.field("displayTimeUnit", "ns");
    w_.key("otherData").begin_object();
    w_.field("producer", "causeway export");
    w_.field("source", opts_.source);
    w_.field("time_origin", "ts 0 = the trace origin (meta origin_monotonic_ns); ts in us");
    if (opts_.since_ns) w_.field_int("since_ns", *opts_.since_ns);
    if (opts_.until_ns) w_.field_int("until_ns", *opts_.until_ns);
    w_.end_object();
    w_.key("traceEvents").begin_array();
    for (Status (Exporter::*pass)() :
         {&Exporter::cuda_calls, &Exporter::thread_states, &Exporter::syscalls, &Exporter::block_io,
          &Exporter::wakeups, &Exporter::chains, &Exporter::cpu_slices}) {
      Status st = (this->*pass)();
      if (!st.ok()) return st;
      if (!w_.status().ok()) return w_.status();
    }
    w_.end_array();
    w_.end_object();
    w_.raw("\n");
    Status st = w_.flush();
    if (!st.ok()) return st;
    sum_.bytes = w_.bytes_written();
    return sum_;
  }

 private:
  // The window condition on a table alias with ts and dur columns.
  std::string window(const char* a) const {
    return std::string(a) + ".ts < :until AND " + a + ".ts + " + a + ".dur >= :since";
  }
  void bind_window(Stmt& s, sqlite3* db) const {
    (void)db;
    s.bind(1, until_);
    s.bind(2, since_);
  }

  // Names a track the first time it is used: process_name / thread_name metadata events,
  // with sort indexes that keep a thread's pseudo tracks right after it.
  void ensure_track(int64_t pid, std::string_view process_name, int64_t tid,
                    const std::string& track_name, int64_t sort_index) {
    if (processes_.insert(pid).second) {
      meta_event("process_name", pid, 0, [&] {
        w_.field("name",
                 process_name.empty() ? "pid " + std::to_string(pid) : std::string(process_name));
      });
      meta_event("process_sort_index", pid, 0, [&] { w_.field_int("sort_index", pid); });
    }
    if (tracks_.insert((pid << 32) ^ tid).second) {
      ++sum_.tracks;
      meta_event("thread_name", pid, tid, [&] { w_.field("name", track_name); });
      meta_event("thread_sort_index", pid, tid, [&] { w_.field_int("sort_index", sort_index); });
    }
  }

  template <typename F>
  void meta_event(const char* name, int64_t pid, int64_t tid, F args) {
    w_.begin_object();
    w_.field("ph", "M").field("name", name).field_int("pid", pid).field_int("tid", tid);
    w_.key("args").begin_object();
    args();
    w_.end_object();
    w_.end_object();
  }

  // Starts a complete slice; the caller adds args and closes with end_slice().
  void begin_slice(std::string_view name, const char* cat, int64_t pid, int64_t tid, int64_t ts,
                   int64_t dur) {
    w_.begin_object();
    w_.field("ph", "X").field("cat", cat).field("name", name);
    w_.field_int("pid", pid).field_int("tid", tid);
    w_.field_us("ts", ts).field_us("dur", dur < 0 ? 0 : dur);
    w_.key("args").begin_object();
  }
  void end_slice() {
    w_.end_object();
    w_.end_object();
  }

  // Places a thread's slice on its kind's track (lane 0, or an overlap lane) and names it.
  int64_t thread_track(Lanes& lanes, TrackKind kind, int64_t pid, std::string_view pname,
                       int64_t tid, std::string_view tname, int64_t ts, int64_t dur) {
    const int lane = lanes.place(ts, ts + (dur < 0 ? 0 : dur));
    const int64_t track = track_tid(tid, kind, lane);
    std::string name = (tname.empty() ? "tid " + std::to_string(tid) : std::string(tname)) +
                       state_track_suffix(kind);
    if (lane > 0) name += " lane " + std::to_string(lane + 1);
    ensure_track(pid, pname, track, name, tid * 8 + static_cast<int64_t>(kind));
    return track;
  }

  // The symbolized stack of a CUDA call or thread state as one line (stack_line.h: innermost
  // frame, then the program's frames before runtime/interpreter plumbing), rendered once per
  // distinct stack: memory grows with distinct stacks, not with events. Called only after
  // py_stack_column() created the symbolizer.
  const std::string& stack_text(std::optional<int64_t> stack, std::optional<int64_t> py) {
    const auto key = std::make_pair(stack.value_or(-1), py.value_or(-1));
    auto it = stack_texts_.find(key);
    if (it != stack_texts_.end()) return it->second;
    auto frames = symbolizer_->merged(stack, py);
    std::string text = frames.ok() ? stack_line(*frames) : std::string();
    return stack_texts_.emplace(key, std::move(text)).first->second;
  }
  // "<alias>.<column>" linking `table`'s rows to their Python stack, or "NULL" when the
  // trace has no Python stacks.
  std::string py_stack_column(const char* table, const char* alias) {
    if (!symbolizer_) symbolizer_ = std::make_unique<symbolize::StackSymbolizer>(db_);
    const std::string col = symbolizer_->python_stack_column(table);
    return col.empty() ? "NULL" : std::string(alias) + "." + col;
  }
  // Adds args `stack_id` and `stack` for an event with native stack `stack` and Python
  // stack `py` (either may be absent).
  void stack_args(std::optional<int64_t> stack, std::optional<int64_t> py) {
    if (stack) w_.field_int("stack_id", *stack);
    if (stack || py) {
      const std::string& text = stack_text(stack, py);
      if (!text.empty()) w_.field("stack", text);
    }
  }

  Status cuda_calls() {
    Stmt s(
        db_,
        "SELECT c.id, c.ts, c.dur, fs.str, c.ret, c.bytes, c.copy_kind, st.handle, "
        "c.device_ptr, c.host_ptr, c.grid, c.block, ks.str, k.addr, t.tid, "
        "coalesce(p.pid, t.tid), p.name, t.name, c.utid, c.stack_id, " +
            py_stack_column("cuda_call", "c") +
            " FROM cuda_call c JOIN thread t ON t.utid = c.utid "
            "LEFT JOIN process p ON p.upid = t.upid LEFT JOIN string fs ON fs.id = c.function_id "
            "LEFT JOIN cuda_stream st ON st.id = c.stream_id "
            "LEFT JOIN cuda_kernel k ON k.id = c.kernel_id "
            "LEFT JOIN string ks ON ks.id = k.name_id WHERE " +
            window("c") + pid_filter_ + " ORDER BY c.utid, c.ts, c.dur DESC");
    if (!s.ok()) return read_error(db_, "CUDA calls");
    bind_window(s, db_);
    static constexpr const char* kKinds[] = {"HtoH", "HtoD", "DtoH", "DtoD", "default"};
    Lanes lanes;
    int64_t utid = -1;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (s.i64(18) != utid) {
        utid = s.i64(18);
        lanes.reset();
      }
      const int64_t ts = s.i64(1), dur = s.i64(2), tid = s.i64(14), pid = s.i64(15);
      const std::string_view fn = s.is_null(3) ? std::string_view("?") : s.text_view(3);
      const int64_t track = thread_track(lanes, TrackKind::kCuda, pid, s.text_view(16), tid,
                                         s.text_view(17), ts, dur);
      begin_slice(fn, "cuda", pid, track, ts, dur);
      w_.field_int("id", s.i64(0)).field("function", fn).field_int("ret", s.i64(4));
      if (auto v = s.opt_i64(5)) w_.field_int("bytes", *v);
      if (auto v = s.opt_i64(6)) {
        w_.key("copy_kind");
        if (*v >= 0 && *v <= 4)
          w_.string(kKinds[*v]);
        else
          w_.integer(*v);
      }
      if (auto v = s.opt_i64(7)) w_.key("stream").hex(static_cast<uint64_t>(*v));
      if (auto v = s.opt_i64(8)) w_.key("device_ptr").hex(static_cast<uint64_t>(*v));
      if (auto v = s.opt_i64(9)) w_.key("host_ptr").hex(static_cast<uint64_t>(*v));
      for (auto [col, name] : {std::pair{10, "grid"}, std::pair{11, "block"}}) {
        if (auto v = s.opt_i64(col); v && *v != 0) {
          uint32_t d[3];
          store::unpack_dim3(*v, d);
          w_.field(name,
                   std::to_string(d[0]) + "x" + std::to_string(d[1]) + "x" + std::to_string(d[2]));
        }
      }
      if (!s.is_null(12)) w_.field("kernel", s.text_view(12));
      if (auto v = s.opt_i64(13)) w_.key("kernel_addr").hex(static_cast<uint64_t>(*v));
      stack_args(s.opt_i64(19), s.opt_i64(20));
      end_slice();
      ++sum_.cuda_calls;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "CUDA calls");
  }

  Status thread_states() {
    Stmt s(db_,
           "SELECT x.id, x.ts, x.dur, x.state, x.cpu, x.kernel_state, x.syscall_nr, sn.name, "
           "x.syscall_id, t.tid, coalesce(p.pid, t.tid), p.name, t.name, x.utid, "
           "wt.tid, wt.name, wp.pid, pt.tid, pt.name, pp.pid, x.waker_utid, x.preempter_utid, "
           "x.stack_id, " +
               py_stack_column("thread_state", "x") +
               " FROM thread_state x JOIN thread t ON t.utid = x.utid "
               "LEFT JOIN process p ON p.upid = t.upid "
               "LEFT JOIN syscall_name sn ON sn.nr = x.syscall_nr "
               "LEFT JOIN thread wt ON wt.utid = x.waker_utid "
               "LEFT JOIN process wp ON wp.upid = wt.upid "
               "LEFT JOIN thread pt ON pt.utid = x.preempter_utid "
               "LEFT JOIN process pp ON pp.upid = pt.upid WHERE " +
               window("x") + pid_filter_ + " ORDER BY x.utid, x.ts, x.dur DESC, x.id");
    if (!s.ok()) return read_error(db_, "thread states");
    bind_window(s, db_);
    // Who held the CPU during each runnable interval, streamed alongside in the same order
    // (store/cpu_holders.h) and merged by key: memory stays bounded by one interval's pieces.
    HolderCursor holders;
    if (store::sql::has_table(db_, "cpu_slice")) {
      std::string cond = window("x");
      if (!pid_filter_.empty()) {
        cond +=
            " AND x.utid IN (SELECT t.utid FROM thread t LEFT JOIN process p ON p.upid = "
            "t.upid WHERE 1" +
            pid_filter_ + ")";
      }
      holders.stmt.emplace(db_, store::runnable_holders_sql(cond, /*grouped=*/false));
      if (!holders.stmt->ok()) return read_error(db_, "CPU holders");
      bind_window(*holders.stmt, db_);
      if (Status st = holders.next(db_); !st.ok()) return st;
    }
    static constexpr const char* kStates[] = {"running", "runnable", "sleeping", "uninterruptible",
                                              "other"};
    Lanes lanes;
    int64_t utid = -1;
    int rc;
    std::string name;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (s.i64(13) != utid) {
        utid = s.i64(13);
        lanes.reset();
      }
      const int64_t ts = s.i64(1), dur = s.i64(2), tid = s.i64(9), pid = s.i64(10);
      const int64_t state = s.i64(3);
      const char* state_name = kStates[state >= 0 && state <= 4 ? state : 4];
      std::string syscall;
      if (!s.is_null(7))
        syscall = s.text_view(7);
      else if (auto nr = s.opt_i64(6))
        syscall = "syscall_" + std::to_string(*nr);
      std::string preempter, waker;
      if (auto v = s.opt_i64(17)) preempter = task_label(s.text_view(18), s.opt_i64(19), *v);
      if (auto v = s.opt_i64(14)) waker = task_label(s.text_view(15), s.opt_i64(16), *v);
      store::CpuHolders held;
      if (state == 1) {
        held.span_ns = std::max<int64_t>(0, dur);
        if (Status st = holders.collect(db_, s.i64(0), s.i64(13), ts, dur, held); !st.ok()) {
          return st;
        }
        held.finish();
      }
      // The name carries what one wants to see at a glance on the timeline: who held the
      // CPU while a runnable thread waited, what a blocked thread was blocked in.
      name = state_name;
      if (state == 1) {
        if (!held.recorded()) {
          name += " (CPU holder unknown)";
        } else if (!held.holders.empty() && held.holders[0].ns >= held.idle_ns) {
          name +=
              " (CPU held by " + (held.holders[0].comm.empty() ? "?" : held.holders[0].comm) + ")";
        } else {
          name += " (CPU idle)";
        }
      } else if ((state == 2 || state == 3) && !syscall.empty()) {
        name += " (" + syscall + ")";
      }
      const int64_t track = thread_track(lanes, TrackKind::kState, pid, s.text_view(11), tid,
                                         s.text_view(12), ts, dur);
      begin_slice(name, "sched", pid, track, ts, dur);
      w_.field_int("id", s.i64(0)).field("state", state_name);
      if (auto v = s.opt_i64(4)) w_.field_int("cpu", *v);
      if (state >= 2) {
        if (auto v = s.opt_i64(5)) w_.field_int("kernel_state", *v);
      }
      if (!syscall.empty()) w_.field("syscall", syscall);
      if (auto v = s.opt_i64(8)) w_.field_int("syscall_id", *v);
      if (!waker.empty()) w_.field("woken_by", waker);
      if (state == 1) holder_args(held);
      // Only the task that switched in when the thread left the CPU: often not the one that
      // held it (cpu_held_by says who did).
      if (!preempter.empty()) w_.field("switched_in_first", preempter);
      // Capture takes a stack when the thread blocks (not when it is preempted), so blocked
      // intervals carry where the thread was when it stopped running; others have none.
      stack_args(s.opt_i64(22), s.opt_i64(23));
      end_slice();
      ++sum_.thread_states;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "thread states");
  }

  // The rows of runnable_holders_sql() in order, one ahead.
  struct HolderCursor {
    std::optional<Stmt> stmt;  // none when the trace has no cpu_slice table
    bool valid = false;
    store::HolderRow row;
    Status next(sqlite3* db) {
      const int rc = stmt->step();
      valid = rc == SQLITE_ROW;
      if (valid) row = store::read_holder_row(*stmt);
      return rc == SQLITE_ROW || rc == SQLITE_DONE ? Status::Ok() : read_error(db, "CPU holders");
    }
    // Adds the pieces of state `id` (of thread `utid`, at `ts`, `dur` long) to `out`, skipping
    // rows of intervals ordered before it. Both streams are ordered by (utid, ts, dur DESC, id).
    Status collect(sqlite3* db, int64_t id, int64_t utid, int64_t ts, int64_t dur,
                   store::CpuHolders& out) {
      auto before = [&](const store::HolderRow& r) {
        return std::make_tuple(r.state_utid, r.state_ts, -r.state_dur, r.state_id) <
               std::make_tuple(utid, ts, -dur, id);
      };
      while (valid && before(row)) {
        if (Status st = next(db); !st.ok()) return st;
      }
      while (valid && row.state_id == id) {
        out.add(std::move(row.holder), row.ns);
        if (Status st = next(db); !st.ok()) return st;
      }
      return Status::Ok();
    }
  };

  // Args of a runnable slice: who held its CPU meanwhile, from cpu_slice.
  void holder_args(const store::CpuHolders& h) {
    w_.field("cpu_held_by", store::describe_holders(h, kListedHolders, [](int64_t ns) {
               return std::to_string(ns) + " ns";
             }));
    if (!h.recorded()) return;
    w_.key("holders").begin_array();
    int64_t rest_ns = 0;
    for (size_t i = 0; i < h.holders.size(); ++i) {
      const store::CpuHolder& c = h.holders[i];
      if (i >= kListedHolders) {
        rest_ns += c.ns;
        continue;
      }
      w_.begin_object();
      w_.field("task", store::holder_label(c)).field_int("ns", c.ns);
      w_.key("traced").raw(c.traced ? "true" : "false");
      w_.end_object();
    }
    w_.end_array();
    if (h.holders.size() > kListedHolders) {
      w_.field_int("other_holders", static_cast<int64_t>(h.holders.size() - kListedHolders));
      w_.field_int("other_holders_ns", rest_ns);
    }
    w_.field_int("cpu_idle_ns", h.idle_ns).field_int("cpu_unknown_ns", h.unknown_ns);
  }

  // Who held each CPU (cpu_slice), one track per CPU in a "CPUs" pseudo process: recorded
  // only while a traced thread ran or waited there, so gaps are unknown, not idle.
  // The tracks are whole-machine, so an export limited to some processes (--pid) leaves them
  // out; those processes' runnable slices still say who held their CPU.
  Status cpu_slices() {
    if (!opts_.pids.empty() || !store::sql::has_table(db_, "cpu_slice")) return Status::Ok();
    Stmt s(db_,
           "SELECT s.id, s.ts, s.dur, s.cpu, s.utid, t.tid, coalesce(p.pid, t.tid), t.name, "
           "p.name, coalesce(t.traced, 0) FROM cpu_slice s LEFT JOIN thread t ON t.utid = s.utid "
           "LEFT JOIN process p ON p.upid = t.upid WHERE " +
               window("s") + " ORDER BY s.cpu, s.ts, s.dur DESC");
    if (!s.ok()) return read_error(db_, "CPU slices");
    bind_window(s, db_);
    Lanes lanes;
    int64_t cpu = -1;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const int64_t ts = s.i64(1), dur = s.i64(2);
      if (s.i64(3) != cpu) {
        cpu = s.i64(3);
        lanes.reset();
      }
      const int lane = lanes.place(ts, ts + (dur < 0 ? 0 : dur));
      const int64_t track = track_tid(cpu, TrackKind::kCpu, lane);
      std::string track_name = "CPU " + std::to_string(cpu);
      if (lane > 0) track_name += " lane " + std::to_string(lane + 1);
      ensure_track(kCpuProcessPid, "CPUs: who held them (while traced threads ran or waited)",
                   track, track_name, cpu * kMaxLanes + lane);
      const bool idle = s.is_null(4);
      const std::string_view comm = s.is_null(7) ? std::string_view("?") : s.text_view(7);
      begin_slice(idle ? std::string_view("idle") : comm, "cpu", kCpuProcessPid, track, ts, dur);
      w_.field_int("id", s.i64(0)).field_int("cpu", cpu);
      if (!idle) {
        w_.field("task", task_label(comm, s.opt_i64(6), s.i64(5)));
        if (!s.is_null(8)) w_.field("process", s.text_view(8));
        w_.key("traced").raw(s.i64(9) != 0 ? "true" : "false");
      }
      end_slice();
      ++sum_.cpu_slices;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "CPU slices");
  }

  Status syscalls() {
    Stmt s(db_,
           "SELECT y.id, y.ts, y.dur, coalesce(sn.name, 'syscall_' || y.nr), y.nr, y.ret, y.fd, "
           "y.bytes, y.addr, y.op, t.tid, coalesce(p.pid, t.tid), p.name, t.name, y.utid "
           "FROM syscall y JOIN thread t ON t.utid = y.utid "
           "LEFT JOIN process p ON p.upid = t.upid "
           "LEFT JOIN syscall_name sn ON sn.nr = y.nr WHERE " +
               window("y") + pid_filter_ + " ORDER BY y.utid, y.ts, y.dur DESC");
    if (!s.ok()) return read_error(db_, "syscalls");
    bind_window(s, db_);
    Lanes lanes;
    int64_t utid = -1;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      if (s.i64(14) != utid) {
        utid = s.i64(14);
        lanes.reset();
      }
      const int64_t ts = s.i64(1), dur = s.i64(2), tid = s.i64(10), pid = s.i64(11);
      const int64_t track = thread_track(lanes, TrackKind::kSyscall, pid, s.text_view(12), tid,
                                         s.text_view(13), ts, dur);
      begin_slice(s.text_view(3), "syscall", pid, track, ts, dur);
      w_.field_int("id", s.i64(0)).field_int("nr", s.i64(4));
      if (auto v = s.opt_i64(5)) w_.field_int("ret", *v);
      if (auto v = s.opt_i64(6)) w_.field_int("fd", *v);
      if (auto v = s.opt_i64(7)) w_.field_int("bytes", *v);
      if (auto v = s.opt_i64(8)) w_.key("addr").hex(static_cast<uint64_t>(*v));
      if (auto v = s.opt_i64(9)) w_.field_int("op", *v);
      // No stack: capture records none at syscall entry (syscall.stack_id stays NULL). A
      // syscall that blocked has its stack on the [state] slice of the blocked interval,
      // whose `syscall_id` is this slice's `id`.
      end_slice();
      ++sum_.syscalls;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "syscalls");
  }

  Status block_io() {
    // Per process and device; no index serves this order, but block I/O is a small share of
    // a trace and SQLite's sorter spills to temporary files rather than growing memory.
    Stmt s(db_,
           "SELECT b.id, b.ts, b.dur, b.queue_dur, b.service_dur, b.dev, b.sector, b.bytes, "
           "b.op, b.error, t.tid, coalesce(p.pid, t.tid), p.name, t.name "
           "FROM block_io b JOIN thread t ON t.utid = b.utid "
           "LEFT JOIN process p ON p.upid = t.upid WHERE " +
               window("b") + pid_filter_ +
               " ORDER BY coalesce(p.upid, -t.utid), b.dev, b.ts, b.dur DESC");
    if (!s.ok()) return read_error(db_, "block I/O");
    bind_window(s, db_);
    Lanes lanes;
    int64_t last_pid = -1, last_dev = -1;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const int64_t ts = s.i64(1), dur = s.i64(2), dev = s.i64(5), pid = s.i64(11);
      if (pid != last_pid || dev != last_dev) {
        last_pid = pid;
        last_dev = dev;
        lanes.reset();
      }
      const int lane = lanes.place(ts, ts + (dur < 0 ? 0 : dur));
      const std::string dev_name =
          std::to_string(dev >> 20) + ":" + std::to_string(dev & ((1 << 20) - 1));
      // Device slot: small and stable per device, so the track ids stay below 2^22.
      auto [it, fresh] = dev_slots_.try_emplace(dev, static_cast<int64_t>(dev_slots_.size()));
      (void)fresh;
      const int64_t track = track_tid(it->second, TrackKind::kBlockIo, lane);
      std::string track_name = "block I/O " + dev_name;
      if (lane > 0) track_name += " lane " + std::to_string(lane + 1);
      // Sorted after every thread of the process (sort indexes of threads are tid * 8 + k).
      ensure_track(pid, s.text_view(12), track, track_name,
                   (int64_t{1} << 26) + it->second * 64 + lane);
      const std::string_view op = s.text_view(8);
      std::string name = op == "R"   ? "read"
                         : op == "W" ? "write"
                         : op == "F" ? "flush"
                         : op == "D" ? "discard"
                                     : "other";
      name += " " + std::to_string(s.i64(7)) + " B";
      begin_slice(name, "block_io", pid, track, ts, dur);
      w_.field_int("id", s.i64(0)).field("op", op).field_int("bytes", s.i64(7));
      w_.field("device", dev_name);
      if (auto v = s.opt_i64(6)) w_.field_int("sector", *v);
      if (auto v = s.opt_i64(3)) w_.field_int("queue_ns", *v);
      if (auto v = s.opt_i64(4)) w_.field_int("service_ns", *v);
      w_.field_int("error", s.i64(9));
      w_.field("submitted_by", task_label(s.text_view(13), pid, s.i64(10)));
      end_slice();
      ++sum_.block_ios;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "block I/O");
  }

  Status wakeups() {
    // Flows start on the waker's state track (it is running when it issues the wakeup) and
    // end on the wakee's, binding to the wakee's next state slice (running or runnable).
    // Untraced wakers have no slices to bind to, so only traced ones get a flow; the wakee's
    // blocked slice names its waker in either case.
    std::string filter = pid_filter_;
    if (!filter.empty()) {
      filter += " AND rp.pid IN (" + filter.substr(filter.find('(') + 1);
    }
    Stmt s(db_,
           "SELECT w.id, w.ts, et.tid, coalesce(p.pid, et.tid), p.name, et.name, rt.tid, "
           "coalesce(rp.pid, rt.tid), rp.name, rt.name "
           "FROM wakeup w JOIN thread et ON et.utid = w.wakee_utid "
           "JOIN thread rt ON rt.utid = w.waker_utid "
           "LEFT JOIN process p ON p.upid = et.upid LEFT JOIN process rp ON rp.upid = rt.upid "
           "WHERE rt.traced = 1 AND w.ts < :until AND w.ts >= :since" +
               filter + " ORDER BY w.id");
    if (!s.ok()) return read_error(db_, "wakeups");
    bind_window(s, db_);
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const int64_t id = s.i64(0), ts = s.i64(1);
      const int64_t wakee_pid = s.i64(3), waker_pid = s.i64(7);
      const int64_t wakee = track_tid(s.i64(2), TrackKind::kState, 0);
      const int64_t waker = track_tid(s.i64(6), TrackKind::kState, 0);
      auto state_name = [](std::string_view t, int64_t tid) {
        return (t.empty() ? "tid " + std::to_string(tid) : std::string(t)) + " [state]";
      };
      ensure_track(waker_pid, s.text_view(8), waker, state_name(s.text_view(9), s.i64(6)),
                   s.i64(6) * 8 + 1);
      ensure_track(wakee_pid, s.text_view(4), wakee, state_name(s.text_view(5), s.i64(2)),
                   s.i64(2) * 8 + 1);
      for (auto [ph, pid, tid] :
           {std::tuple{"s", waker_pid, waker}, std::tuple{"f", wakee_pid, wakee}}) {
        w_.begin_object();
        w_.field("ph", ph).field("cat", "wakeup").field("name", "wakeup");
        w_.field_int("id", id).field_int("pid", pid).field_int("tid", tid).field_us("ts", ts);
        w_.end_object();
      }
      ++sum_.flows;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "wakeups");
  }

  Status chains() {
    Stmt t(db_, "SELECT 1 FROM sqlite_schema WHERE type = 'table' AND name = 'causal_chain'");
    if (!t.ok()) return read_error(db_, "table list");
    const int trc = t.step();
    if (trc == SQLITE_DONE) return Status::Ok();  // never analysed: nothing to mark
    if (trc != SQLITE_ROW) return read_error(db_, "table list");
    // Chains are few (tens); their windows come from the stored JSON.
    Stmt s(db_,
           "SELECT c.id, c.severity, c.category, c.kind, c.pid, c.tid, c.comm, c.function, "
           "c.impact_ns, c.summary, c.json, p.name FROM causal_chain c "
           "LEFT JOIN process p ON p.upid = (SELECT max(upid) FROM process WHERE pid = c.pid) "
           "ORDER BY coalesce(c.pid, 0), coalesce(c.tid, 0), c.id");
    if (!s.ok()) return read_error(db_, "causal chains");
    std::unordered_set<int64_t> wanted(opts_.pids.begin(), opts_.pids.end());
    Lanes lanes;
    int64_t last_track = -1;
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      const auto j = nlohmann::json::parse(s.text_view(10), nullptr, /*allow_exceptions=*/false);
      if (j.is_discarded() || !j.is_object() || !j.contains("window")) continue;
      const auto& win = j["window"];
      if (!win.is_object()) continue;
      const int64_t start = win.value("start_ns", int64_t{0});
      const int64_t end = std::max(start, win.value("end_ns", start));
      if (start >= until_ || end < since_) continue;
      const int64_t cpid = s.opt_i64(4).value_or(0), ctid = s.opt_i64(5).value_or(0);
      if (!wanted.empty() && wanted.count(cpid) == 0) continue;
      const bool own = cpid > 0 && ctid > 0;
      const int64_t pid = own ? cpid : kChainProcessPid;
      const int64_t base = own ? ctid : 0;
      if (base != last_track) {
        last_track = base;
        lanes.reset();
      }
      const int lane = lanes.place(start, end);
      const int64_t track = track_tid(base, TrackKind::kChain, lane);
      std::string track_name =
          own ? (s.is_null(6) ? "tid " + std::to_string(ctid) : std::string(s.text_view(6))) +
                    " [chains]"
              : "causal chains";
      if (lane > 0) track_name += " lane " + std::to_string(lane + 1);
      ensure_track(pid, own ? s.text_view(11) : std::string_view("causeway: causal chains"), track,
                   track_name, base * 8 + 4);
      const std::string name = "chain #" + std::to_string(s.i64(0)) + " " +
                               std::string(s.text_view(1)) + ": " + std::string(s.text_view(2));
      begin_slice(name, "causal_chain", pid, track, start, end - start);
      w_.field_int("chain_id", s.i64(0))
          .field("severity", s.text_view(1))
          .field("category", s.text_view(2));
      if (!s.is_null(3)) w_.field("kind", s.text_view(3));
      if (!s.is_null(7)) w_.field("function", s.text_view(7));
      w_.field_int("impact_ns", s.i64(8)).field("summary", s.text_view(9));
      if (j.contains("recommendation") && j["recommendation"].is_string()) {
        w_.field("recommendation", j["recommendation"].get<std::string>());
      }
      end_slice();
      ++sum_.chains;
    }
    return rc == SQLITE_DONE ? Status::Ok() : read_error(db_, "causal chains");
  }

  sqlite3* db_;
  const ExportOptions& opts_;
  JsonStream w_;
  int64_t since_, until_;
  std::string pid_filter_;
  ExportSummary sum_;
  // Bounded by the number of processes, tracks and devices, not by events.
  std::unordered_set<int64_t> processes_;
  std::unordered_set<int64_t> tracks_;
  std::unordered_map<int64_t, int64_t> dev_slots_;
  // Symbolized stacks of CUDA calls and thread states: bounded by the number of distinct stacks.
  std::unique_ptr<symbolize::StackSymbolizer> symbolizer_;
  std::map<std::pair<int64_t, int64_t>, std::string> stack_texts_;
};

}  // namespace

Result<ExportSummary> write_perfetto_json(sqlite3* db, const ExportOptions& options,
                                          std::FILE* out) {
  Exporter e(db, options, out);
  return e.run();
}

}  // namespace causeway::timeline
