#include "analyze/trace_data.h"

#include "analyze/python_gil.h"

#include <nlohmann/json.hpp>

#include <sqlite3.h>

#include <algorithm>
#include <array>
#include <cstdlib>
#include <limits>

#include "store/reader.h"
#include "store/sql_util.h"

namespace causeway::analyze {

namespace sql = store::sql;

namespace {

constexpr std::array<std::string_view, 7> kSuffixes = {"_v2_ptsz", "_v2_ptds", "_ptsz", "_ptds",
                                                       "_v2",      "_v3",      "_v4"};

// Threads whose wakeups mean "the device finished": the simulated GPU's worker, NVIDIA's
// driver threads and interrupt threads. Interrupt-context wakeups have no waker at all.
bool is_gpu_agent(const std::string& comm) {
  for (std::string_view prefix : {"sim-gpu", "irq/", "nv_queue", "nvidia", "cuda-EvtHandlr"}) {
    if (comm.rfind(prefix, 0) == 0) return true;
  }
  return false;
}

// Groups rows by thread (a counting sort: rows arrive interleaved across threads in rowid
// order), then sorts each thread's rows only if they are not already in time order, which
// recorders almost always guarantee. O(n) instead of a global O(n log n) sort.
template <typename T, typename Less>
void sort_by_thread(std::vector<T>& v, size_t threads, Less less) {
  std::vector<size_t> start(threads + 1, 0);
  for (const T& r : v) ++start[static_cast<size_t>(r.thread) + 1];
  for (size_t i = 1; i <= threads; ++i) start[i] += start[i - 1];
  std::vector<T> out(v.size());
  std::vector<size_t> pos(start.begin(), start.end() - 1);
  for (T& r : v) out[pos[static_cast<size_t>(r.thread)]++] = std::move(r);
  for (size_t t = 0; t < threads; ++t) {
    auto b = out.begin() + static_cast<std::ptrdiff_t>(start[t]);
    auto e = out.begin() + static_cast<std::ptrdiff_t>(start[t + 1]);
    if (!std::is_sorted(b, e, less)) std::sort(b, e, less);
  }
  v = std::move(out);
}

template <typename T>
std::vector<Range> ranges_by_thread(const std::vector<T>& rows, size_t threads) {
  std::vector<Range> out(threads, Range{0, 0});
  size_t i = 0;
  while (i < rows.size()) {
    size_t j = i;
    const auto t = static_cast<size_t>(rows[i].thread);
    while (j < rows.size() && static_cast<size_t>(rows[j].thread) == t) ++j;
    out[t] = Range{i, j};
    i = j;
  }
  return out;
}

}  // namespace

std::string function_base_name(const std::string& name) {
  for (std::string_view s : kSuffixes) {
    if (name.size() > s.size() && name.compare(name.size() - s.size(), s.size(), s) == 0) {
      return function_base_name(name.substr(0, name.size() - s.size()));
    }
  }
  return name;
}

CallClass classify_function(const std::string& b) {
  auto starts = [&](std::string_view p) { return b.rfind(p, 0) == 0; };
  auto ends = [&](std::string_view s) {
    return b.size() >= s.size() && b.compare(b.size() - s.size(), s.size(), s) == 0;
  };
  if (b == "cudaLaunchKernel" || b == "cudaLaunchKernelExC" || b == "cuLaunchKernel" ||
      b == "cuLaunchKernelEx" || b == "cudaGraphLaunch" || b == "cuGraphLaunch" ||
      b == "cudaLaunchCooperativeKernel" || b == "cuLaunchCooperativeKernel") {
    return CallClass::kLaunch;
  }
  if (ends("Synchronize")) return CallClass::kSync;  // cudaStreamSynchronize, cuCtxSynchronize ...
  if (b == "cudaMallocHost" || b == "cudaHostAlloc" || b == "cuMemAllocHost" ||
      b == "cuMemHostAlloc") {
    return CallClass::kHostAlloc;
  }
  if (b == "cudaHostRegister" || b == "cuMemHostRegister") return CallClass::kHostRegister;
  if (b == "cudaMalloc" || b == "cudaMallocManaged" || b == "cudaMallocPitch" ||
      b == "cuMemAlloc" || b == "cuMemAllocManaged" || b == "cuMemAllocPitch") {
    return CallClass::kAlloc;
  }
  if (b == "cudaFree" || b == "cuMemFree") return CallClass::kFree;
  if (starts("cudaMemset") || starts("cuMemset")) return CallClass::kMemset;
  if (starts("cudaMemcpy") || starts("cuMemcpy")) {
    return ends("Async") ? CallClass::kCopyAsync : CallClass::kCopySync;
  }
  return CallClass::kOther;
}

std::string device_name(uint32_t dev) {
  return std::to_string(dev >> 20) + ":" + std::to_string(dev & 0xfffff);
}

void TraceData::StmtFree::operator()(sqlite3_stmt* s) const {
  sqlite3_finalize(s);
}

TraceData::TraceData(TraceData&&) noexcept = default;
TraceData& TraceData::operator=(TraceData&&) noexcept = default;
TraceData::~TraceData() = default;

namespace {

// A private read-only connection to the same file for the bulk scans, opened without
// SQLite's per-call mutex: the caller's connection may be in serialized mode (the Reader's
// is), where every column read takes and releases a mutex — about a tenth of the scan time
// on a 10-million-event trace. Falls back to the caller's connection (in-memory databases,
// a file that cannot be reopened).
struct ScanConnection {
  sqlite3* own = nullptr;
  sqlite3* db = nullptr;
  explicit ScanConnection(sqlite3* caller) : db(caller) {
    const char* file = sqlite3_db_filename(caller, "main");
    if (file == nullptr || *file == '\0') return;
    // Hardened like the caller's (store/reader.h): it reads the same untrusted file, and the
    // thread's ReadBudget must stop its scans too.
    auto opened = store::open_trace_connection(file, SQLITE_OPEN_READONLY | SQLITE_OPEN_NOMUTEX);
    if (opened.ok()) {
      own = *opened;
      db = own;
    }
  }
  ~ScanConnection() { sqlite3_close(own); }
  ScanConnection(const ScanConnection&) = delete;
  ScanConnection& operator=(const ScanConnection&) = delete;
};

// Whether `table` has a column `column`: traces written before a column existed lack it.
bool has_column(sqlite3* db, const char* table, const char* column) {
  sql::Stmt s(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  if (!s.ok()) return false;
  s.bind(1, std::string_view(table));
  s.bind(2, std::string_view(column));
  return s.step() == SQLITE_ROW;
}

}  // namespace

Result<TraceData> TraceData::load(sqlite3* caller_db, const LoadOptions& opts) {
  TraceData d;
  d.db_ = caller_db;
  ScanConnection scan(caller_db);
  sqlite3* db = scan.db;
  // Times from a crafted file could overflow the analysis' arithmetic: refuse them first.
  if (Status values = store::check_event_values(db); !values.ok()) return values;
  const int64_t since = opts.since_ns.value_or(std::numeric_limits<int64_t>::min());
  const int64_t until = opts.until_ns.value_or(std::numeric_limits<int64_t>::max());
  int64_t lo = std::numeric_limits<int64_t>::max();
  int64_t hi = std::numeric_limits<int64_t>::min();
  auto see = [&](int64_t ts, int64_t end) {
    lo = std::min(lo, ts);
    hi = std::max(hi, end);
  };

  // Threads (with their process), indexed densely.
  std::unordered_map<int64_t, int32_t> by_utid;
  {
    sql::Stmt s(db,
                "SELECT t.utid, t.tid, coalesce(t.upid, 0), coalesce(t.name, ''), t.end_ts, "
                "t.traced, coalesce(p.pid, 0), coalesce(p.name, '') FROM thread t "
                "LEFT JOIN process p ON p.upid = t.upid ORDER BY t.utid");
    if (!s.ok()) return sql::query_error(db, "threads");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      ThreadInfo t;
      t.utid = s.i64(0);
      t.tid = static_cast<int32_t>(s.i64(1));
      t.upid = s.i64(2);
      t.name = s.text(3);
      t.end_ts = s.opt_i64(4);
      t.traced = s.i64(5) != 0;
      t.pid = static_cast<int32_t>(s.i64(6));
      t.process = s.text(7);
      t.gpu_agent = is_gpu_agent(t.name);
      by_utid[t.utid] = static_cast<int32_t>(d.threads.size());
      d.threads.push_back(std::move(t));
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "threads");
  }
  // A row may name a utid the thread table lacks (a truncated trace); give it a placeholder
  // rather than dropping the event.
  auto thread_index = [&](int64_t utid) -> int32_t {
    auto it = by_utid.find(utid);
    if (it != by_utid.end()) return it->second;
    ThreadInfo t;
    t.utid = utid;
    t.name = "utid " + std::to_string(utid);
    const auto idx = static_cast<int32_t>(d.threads.size());
    d.threads.push_back(std::move(t));
    by_utid[utid] = idx;
    return idx;
  };

  {
    sql::Stmt s(db, "SELECT nr, name FROM syscall_name");
    if (s.ok()) {
      while (s.step() == SQLITE_ROW) {
        d.syscall_names_[static_cast<int32_t>(s.i64(0))] = s.text(1);
      }
    }
  }

  // CUDA calls.
  {
    std::unordered_map<int64_t, int32_t> fn_by_string;
    sql::Stmt names(db, "SELECT str FROM string WHERE id = ?1");
    sql::Stmt s(db,
                "SELECT id, ts, dur, utid, function_id, stream_id, bytes, copy_kind, host_ptr, "
                "ret FROM cuda_call");
    if (!s.ok() || !names.ok()) return sql::query_error(db, "CUDA calls");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      Call c;
      c.id = s.i64(0);
      c.ts = s.i64(1);
      c.dur = std::max<int64_t>(0, s.i64(2));
      see(c.ts, c.end());
      if (c.end() < since || c.ts >= until) continue;
      c.thread = thread_index(s.i64(3));
      const int64_t fid = s.i64(4);
      auto it = fn_by_string.find(fid);
      if (it == fn_by_string.end()) {
        FunctionInfo f;
        names.reset();
        names.bind(1, fid);
        f.name = names.step() == SQLITE_ROW ? names.text(0) : "function#" + std::to_string(fid);
        f.base = function_base_name(f.name);
        f.cls = classify_function(f.base);
        it = fn_by_string.emplace(fid, static_cast<int32_t>(d.functions.size())).first;
        d.functions.push_back(std::move(f));
      }
      c.fn = it->second;
      c.stream_id = s.opt_i64(5).value_or(-1);
      c.bytes = s.opt_i64(6).value_or(-1);
      c.copy_kind = static_cast<int8_t>(s.opt_i64(7).value_or(-1));
      c.has_host_ptr = !s.is_null(8);
      c.host_ptr = static_cast<uint64_t>(s.i64(8));
      c.ret = static_cast<int32_t>(s.i64(9));
      d.calls.push_back(c);
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "CUDA calls");
  }

  if (auto quotas = sql::meta(db, "cpu_quotas")) {
    // Written by the recorder, but a trace can come from anyone: anything malformed is no
    // evidence of throttling rather than an error.
    const auto j = nlohmann::json::parse(*quotas, nullptr, /*allow_exceptions=*/false);
    if (j.is_array()) {
      for (const auto& q : j) {
        if (!q.is_object() || !q.contains("start") || !q.contains("end")) continue;
        const auto& a = q["start"];
        const auto& b = q["end"];
        auto num = [](const nlohmann::json& o, const char* k) -> int64_t {
          return o.is_object() && o.contains(k) && o[k].is_number_integer() ? o[k].get<int64_t>()
                                                                            : 0;
        };
        TraceData::Throttle t;
        t.periods_throttled = num(b, "nr_throttled") - num(a, "nr_throttled");
        t.throttled_ns = num(b, "throttled_ns") - num(a, "throttled_ns");
        if (t.periods_throttled <= 0) continue;
        t.cgroup = q.value("cgroup", std::string());
        t.quota_us = num(q, "quota_us");
        t.period_us = num(q, "period_us");
        if (q.contains("pids") && q["pids"].is_array()) {
          for (const auto& p : q["pids"]) {
            if (p.is_number_integer()) t.pids.push_back(p.get<int32_t>());
          }
        }
        d.throttles.push_back(std::move(t));
      }
    }
  }
  if (auto pid = sql::meta(db, "recorder_pid")) {
    d.recorder_pid = static_cast<int32_t>(std::strtol(pid->c_str(), nullptr, 10));
    for (ThreadInfo& t : d.threads) t.recorder = d.recorder_pid > 0 && t.pid == d.recorder_pid;
  }

  // Scheduling intervals of every traced thread: wakers and preempters are analysed too.
  // waker_context is absent from traces written before it existed: read as unknown.
  {
    const bool with_context = has_column(db, "thread_state", "waker_context");
    sql::Stmt s(db, with_context ? "SELECT id, ts, dur, utid, state, cpu, syscall_nr, syscall_id, "
                                   "waker_utid, preempter_utid, waker_context FROM thread_state"
                                 : "SELECT id, ts, dur, utid, state, cpu, syscall_nr, syscall_id, "
                                   "waker_utid, preempter_utid, NULL FROM thread_state");
    if (!s.ok()) return sql::query_error(db, "thread states");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      StateRow r;
      r.id = s.i64(0);
      r.ts = s.i64(1);
      r.dur = std::max<int64_t>(0, s.i64(2));
      see(r.ts, r.end());
      r.thread = thread_index(s.i64(3));
      r.state = static_cast<uint8_t>(std::clamp<int64_t>(s.i64(4), 0, 4));
      r.cpu = static_cast<int16_t>(s.opt_i64(5).value_or(-1));
      r.syscall_nr = static_cast<int32_t>(s.opt_i64(6).value_or(-1));
      r.syscall_id = s.opt_i64(7).value_or(0);
      if (auto w = s.opt_i64(8)) r.waker = thread_index(*w);
      if (auto p = s.opt_i64(9)) r.preempter = thread_index(*p);
      if (auto c = s.opt_i64(10); c && *c >= kWakeTask && *c <= kWakeNmi) {
        r.waker_context = static_cast<int8_t>(*c);
        // Only a task wakeup has a waker; an interrupt or a timer has none, whatever ran.
        if (r.waker_context != kWakeTask) r.waker = -1;
      }
      d.states.push_back(r);
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "thread states");
  }

  {
    sql::Stmt s(db, "SELECT id, ts, dur, utid, dev, bytes, op FROM block_io");
    if (!s.ok()) return sql::query_error(db, "block I/O");
    int rc;
    while ((rc = s.step()) == SQLITE_ROW) {
      BlockIo b;
      b.id = s.i64(0);
      b.ts = s.i64(1);
      b.dur = std::max<int64_t>(0, s.i64(2));
      see(b.ts, b.end());
      b.thread = thread_index(s.i64(3));
      b.dev = static_cast<uint32_t>(s.i64(4));
      b.bytes = s.i64(5);
      const std::string op = s.text(6);
      b.op = op.empty() ? '?' : op[0];
      d.block_ios.push_back(b);
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "block I/O");
  }

  // Who held each CPU, where the recorder saw both ends of the stretch.
  d.has_cpu_slices = sql::has_table(db, "cpu_slice");
  if (d.has_cpu_slices) {
    sql::Stmt s(db, "SELECT id, ts, dur, cpu, utid FROM cpu_slice");
    if (!s.ok()) return sql::query_error(db, "CPU slices");
    int rc;
    int32_t max_cpu = -1;
    while ((rc = s.step()) == SQLITE_ROW) {
      CpuSlice c;
      c.id = s.i64(0);
      c.ts = s.i64(1);
      c.dur = std::max<int64_t>(0, s.i64(2));
      const int64_t cpu = s.i64(3);
      if (cpu < 0 || cpu > 65535 || c.dur == 0) continue;
      c.cpu = static_cast<int32_t>(cpu);
      if (auto u = s.opt_i64(4)) c.holder = thread_index(*u);
      max_cpu = std::max(max_cpu, c.cpu);
      d.slices.push_back(c);
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "CPU slices");
    auto less = [](const CpuSlice& a, const CpuSlice& b) {
      if (a.cpu != b.cpu) return a.cpu < b.cpu;
      if (a.ts != b.ts) return a.ts < b.ts;
      return a.id < b.id;
    };
    if (!std::is_sorted(d.slices.begin(), d.slices.end(), less)) {
      std::sort(d.slices.begin(), d.slices.end(), less);
    }
    d.cpu_slices.assign(static_cast<size_t>(max_cpu + 1), Range{0, 0});
    for (size_t i = 0; i < d.slices.size();) {
      size_t j = i;
      while (j < d.slices.size() && d.slices[j].cpu == d.slices[i].cpu) ++j;
      d.cpu_slices[static_cast<size_t>(d.slices[i].cpu)] = Range{i, j};
      i = j;
    }
  }

  // Older traces have no recorder_pid: the recorder shows itself as a thread named
  // "causeway" resuming (SIGCONT) a thread it had stopped to attach probes.
  // Its other threads (the one that held a CPU meanwhile) belong to the same process.
  if (d.recorder_pid == 0) {
    std::vector<int32_t> pids;
    for (const StateRow& r : d.states) {
      if (r.state != kOther || r.waker < 0) continue;
      const ThreadInfo& w = d.threads[static_cast<size_t>(r.waker)];
      if (w.name == "causeway" && w.pid > 0 &&
          std::find(pids.begin(), pids.end(), w.pid) == pids.end()) {
        pids.push_back(w.pid);
      }
    }
    for (ThreadInfo& t : d.threads) {
      if (std::find(pids.begin(), pids.end(), t.pid) != pids.end()) t.recorder = true;
    }
  }

  // The trace's extent: from the origin to the recorder's end_ts when it closed the file;
  // otherwise the other event tables bound it too (a scan each).
  if (auto end = sql::meta(db, "end_ts")) {
    lo = std::min<int64_t>(lo, 0);
    hi = std::max<int64_t>(hi, std::strtoll(end->c_str(), nullptr, 10));
  } else {
    for (const char* q :
         {"SELECT min(ts), max(ts + dur) FROM syscall", "SELECT min(ts), max(ts) FROM wakeup",
          "SELECT min(ts), max(ts) FROM process_event"}) {
      sql::Stmt s(db, q);
      if (s.ok() && s.step() == SQLITE_ROW && !s.is_null(0)) see(s.i64(0), s.i64(1));
    }
  }
  if (lo <= hi) {
    d.start_ns = lo;
    d.end_ns = hi;
  }
  if (opts.since_ns) d.start_ns = std::max(d.start_ns, *opts.since_ns);
  if (opts.until_ns) d.end_ns = std::min(d.end_ns, *opts.until_ns);
  if (d.end_ns < d.start_ns) d.end_ns = d.start_ns;

  sort_by_thread(d.calls, d.threads.size(), [](const Call& a, const Call& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    if (a.ts != b.ts) return a.ts < b.ts;
    if (a.dur != b.dur) return a.dur > b.dur;
    return a.id < b.id;
  });
  sort_by_thread(d.states, d.threads.size(), [](const StateRow& a, const StateRow& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    if (a.ts != b.ts) return a.ts < b.ts;
    return a.id < b.id;
  });
  sort_by_thread(d.block_ios, d.threads.size(), [](const BlockIo& a, const BlockIo& b) {
    if (a.thread != b.thread) return a.thread < b.thread;
    if (a.ts != b.ts) return a.ts < b.ts;
    return a.id < b.id;
  });
  d.thread_calls = ranges_by_thread(d.calls, d.threads.size());
  d.thread_states = ranges_by_thread(d.states, d.threads.size());
  d.thread_ios = ranges_by_thread(d.block_ios, d.threads.size());

  // A call contained in the previous top-level call of its thread is nested (the runtime
  // calling the driver): it is analysed as part of its caller, not on its own.
  for (const Range& r : d.thread_calls) {
    int64_t outer_end = std::numeric_limits<int64_t>::min();
    for (size_t i = r.begin; i < r.end; ++i) {
      Call& c = d.calls[i];
      if (c.ts < outer_end && c.end() <= outer_end) {
        c.top_level = false;
      } else {
        outer_end = c.end();
      }
    }
  }

  // Which futex waits were waits for a Python GIL, and who held it.
  if (Status st = load_gil_waits(db, d); !st.ok()) return st;

  d.syscall_stmt_.reset();
  const char* q =
      "SELECT s.id, s.ts, s.dur, coalesce(n.name, 'syscall_' || s.nr), s.fd, s.addr, s.op "
      "FROM syscall s LEFT JOIN syscall_name n ON n.nr = s.nr WHERE s.id = ?1";
  // Lazy lookups happen after load returns: on the caller's connection, which outlives us.
  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(caller_db, q, -1, &stmt, nullptr) != SQLITE_OK) {
    return sql::query_error(caller_db, "syscalls");
  }
  d.syscall_stmt_.reset(stmt);
  return d;
}

size_t TraceData::first_slice_after(int32_t cpu, int64_t ts) const {
  if (cpu < 0 || static_cast<size_t>(cpu) >= cpu_slices.size()) return 0;
  const Range r = cpu_slices[static_cast<size_t>(cpu)];
  // Slices of one CPU do not overlap, so ends are sorted like starts.
  auto it = std::upper_bound(slices.begin() + static_cast<std::ptrdiff_t>(r.begin),
                             slices.begin() + static_cast<std::ptrdiff_t>(r.end), ts,
                             [](int64_t t, const CpuSlice& s) { return t < s.end(); });
  return static_cast<size_t>(it - slices.begin());
}

std::string TraceData::syscall_name(int32_t nr) const {
  auto it = syscall_names_.find(nr);
  return it != syscall_names_.end() ? it->second : "syscall_" + std::to_string(nr);
}

std::optional<SyscallInfo> TraceData::syscall(int64_t id) {
  if (id <= 0 || !syscall_stmt_) return std::nullopt;
  auto it = syscall_cache_.find(id);
  if (it != syscall_cache_.end()) return it->second;
  std::optional<SyscallInfo> out;
  sqlite3_reset(syscall_stmt_.get());
  sqlite3_bind_int64(syscall_stmt_.get(), 1, id);
  if (sqlite3_step(syscall_stmt_.get()) == SQLITE_ROW) {
    SyscallInfo s;
    s.id = sqlite3_column_int64(syscall_stmt_.get(), 0);
    s.ts = sqlite3_column_int64(syscall_stmt_.get(), 1);
    s.dur = sqlite3_column_int64(syscall_stmt_.get(), 2);
    const unsigned char* name = sqlite3_column_text(syscall_stmt_.get(), 3);
    s.name = name ? reinterpret_cast<const char*>(name) : "";
    if (sqlite3_column_type(syscall_stmt_.get(), 4) != SQLITE_NULL) {
      s.fd = sqlite3_column_int64(syscall_stmt_.get(), 4);
    }
    if (sqlite3_column_type(syscall_stmt_.get(), 5) != SQLITE_NULL) {
      s.addr = sqlite3_column_int64(syscall_stmt_.get(), 5);
    }
    if (sqlite3_column_type(syscall_stmt_.get(), 6) != SQLITE_NULL) {
      s.op = sqlite3_column_int64(syscall_stmt_.get(), 6);
    }
    out = std::move(s);
  }
  syscall_cache_.emplace(id, out);
  return out;
}

size_t TraceData::first_state_after(int32_t thread, int64_t ts) const {
  if (thread < 0 || static_cast<size_t>(thread) >= thread_states.size()) return 0;
  const Range r = thread_states[static_cast<size_t>(thread)];
  // States of one thread do not overlap, so ends are sorted like starts.
  auto it = std::upper_bound(states.begin() + static_cast<std::ptrdiff_t>(r.begin),
                             states.begin() + static_cast<std::ptrdiff_t>(r.end), ts,
                             [](int64_t t, const StateRow& s) { return t < s.end(); });
  return static_cast<size_t>(it - states.begin());
}

}  // namespace causeway::analyze
