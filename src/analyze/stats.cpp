#include "analyze/stats.h"

#include <sqlite3.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <unordered_map>

#include "analyze/baseline.h"
#include "analyze/decompose.h"
#include "common/terminal_text.h"
#include "store/reader.h"
#include "store/sql_util.h"
#include "store/trace_meta.h"

namespace causeway::analyze {

namespace sql = store::sql;

namespace {
// The event tables, in the order they are reported.
constexpr const char* kEventTables[] = {"cuda_call", "thread_state", "wakeup",
                                        "syscall",   "block_io",     "process_event"};

// a + b, saturating at the int64 limits: totals over a crafted trace must not overflow.
int64_t sat_add(int64_t a, int64_t b) {
  int64_t r = 0;
  if (__builtin_add_overflow(a, b, &r)) {
    return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
  }
  return r;
}

// "0x1a2b", as addresses are shown elsewhere (printf('%#x')).
std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}
}  // namespace

Result<TraceStats> compute_stats(sqlite3* db) {
  // Times outside what a trace can hold would overflow the sums below: refuse the file.
  if (Status values = store::check_event_values(db); !values.ok()) return values;
  TraceStats s;
  s.host = sql::meta(db, "host").value_or("");
  s.kernel_release = sql::meta(db, "kernel_release").value_or("");
  s.tool_version = sql::meta(db, "tool_version").value_or("");
  s.complete = sql::meta(db, "complete").value_or("0") == "1";

  for (const char* t : kEventTables) {
    sql::Stmt q(db, std::string("SELECT count(*) FROM ") + t);
    if (!q.ok() || q.step() != SQLITE_ROW) return sql::query_error(db, t);
    s.events[t] = q.i64(0);
    s.total_events += q.i64(0);
  }
  {
    const store::TraceDrops d =
        store::parse_trace_drops(sql::meta(db, "drops"), sql::meta(db, "drops_total"));
    s.drops = d.by_source;
    s.total_drops = d.ring_total;
  }

  // Per function: every duration, for exact percentiles; per thread: call counts.
  std::unordered_map<int64_t, std::vector<int64_t>> durs;
  std::unordered_map<int64_t, ApiStats> apis;
  std::unordered_map<int64_t, int64_t> calls_by_utid;
  // Launches by (kernel id, function id), counted in the same scan: a second pass over the
  // calls to count per kernel cost seconds on a 7.7 M-call trace.
  std::map<std::pair<int64_t, int64_t>, int64_t> launches;
  int64_t max_end = 0;
  {
    sql::Stmt q(db,
                "SELECT function_id, dur, coalesce(bytes, 0), ret, utid, ts, kernel_id FROM "
                "cuda_call");
    if (!q.ok()) return sql::query_error(db, "CUDA calls");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      const int64_t f = q.i64(0);
      const int64_t dur = std::max<int64_t>(0, q.i64(1));
      ApiStats& a = apis[f];
      ++a.count;
      a.total_ns = sat_add(a.total_ns, dur);
      a.bytes = sat_add(a.bytes, q.i64(2));
      a.errors += q.i64(3) != 0;
      durs[f].push_back(dur);
      ++calls_by_utid[q.i64(4)];
      max_end = std::max(max_end, sat_add(q.i64(5), dur));
      if (!q.is_null(6)) ++launches[{q.i64(6), f}];
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "CUDA calls");
  }
  sql::Stmt name(db, "SELECT str FROM string WHERE id = ?1");
  if (!name.ok()) return sql::query_error(db, "strings");
  for (auto& [f, a] : apis) {
    std::vector<int64_t>& v = durs[f];
    std::sort(v.begin(), v.end());
    a.p50_ns = percentile(v, 0.50);
    a.p95_ns = percentile(v, 0.95);
    a.p99_ns = percentile(v, 0.99);
    a.max_ns = v.back();
    name.reset();
    name.bind(1, f);
    a.name = name.step() == SQLITE_ROW ? name.text(0) : "function#" + std::to_string(f);
    s.apis.push_back(a);
  }
  std::sort(s.apis.begin(), s.apis.end(), [](const ApiStats& a, const ApiStats& b) {
    return a.total_ns != b.total_ns ? a.total_ns > b.total_ns : a.name < b.name;
  });

  {
    // Threads are counted in the one scan of `thread` below rather than by a correlated
    // count(*) per process: `thread` has no index on upid, and with 10^6 processes the
    // correlated form was quadratic (still running after 11 minutes).
    sql::Stmt q(db,
                "SELECT p.upid, p.pid, coalesce(p.name, ''), coalesce(p.cmdline, '') FROM process "
                "p WHERE p.traced = 1 ORDER BY p.pid, p.upid");
    if (!q.ok()) return sql::query_error(db, "processes");
    std::unordered_map<int64_t, size_t> by_upid;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      ProcessStats p;
      p.pid = static_cast<int32_t>(q.i64(1));
      p.name = q.text(2);
      p.cmdline = q.text(3);
      by_upid[q.i64(0)] = s.processes.size();
      s.processes.push_back(std::move(p));
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "processes");
    sql::Stmt t(db, "SELECT utid, upid FROM thread WHERE upid IS NOT NULL");
    if (!t.ok()) return sql::query_error(db, "threads");
    while ((rc = t.step()) == SQLITE_ROW) {
      auto p = by_upid.find(t.i64(1));
      if (p == by_upid.end()) continue;
      ProcessStats& ps = s.processes[p->second];
      ++ps.threads;
      auto c = calls_by_utid.find(t.i64(0));
      if (c != calls_by_utid.end()) ps.cuda_calls += c->second;
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "threads");
  }

  {
    // Runtime launches only (analyze/stats.h): by kernel row first, then by what is shown.
    std::unordered_map<int64_t, int64_t> by_kernel;
    for (const auto& [key, n] : launches) {
      if (apis[key.second].name.rfind("cuda", 0) == 0) by_kernel[key.first] += n;
    }
    // Unnamed kernels are told apart by address: the same kernel in two processes (ASLR) is
    // then two rows, but two different kernels are never merged.
    std::map<std::pair<std::string, uint64_t>, KernelStats> shown;  // by (name, addr if unnamed)
    sql::Stmt q(db,
                "SELECT k.id, ks.str, k.addr FROM cuda_kernel k LEFT JOIN string ks ON ks.id = "
                "k.name_id");
    if (!q.ok()) return sql::query_error(db, "kernels");
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) {
      auto it = by_kernel.find(q.i64(0));
      if (it == by_kernel.end()) continue;
      KernelStats k;
      if (q.is_null(1)) {
        k.addr = static_cast<uint64_t>(q.i64(2));
      } else {
        k.name = q.text(1);
      }
      KernelStats& row = shown.try_emplace({k.name, k.addr}, k).first->second;
      row.launches += it->second;
    }
    if (rc != SQLITE_DONE) return sql::query_error(db, "kernels");
    std::vector<KernelStats> all;
    for (auto& [key, k] : shown) all.push_back(std::move(k));
    std::sort(all.begin(), all.end(), [](const KernelStats& a, const KernelStats& b) {
      if (a.launches != b.launches) return a.launches > b.launches;
      if (a.name.empty() != b.name.empty()) return b.name.empty();  // named first
      return a.name != b.name ? a.name < b.name : a.addr < b.addr;
    });
    s.kernels_total = static_cast<int64_t>(all.size());
    if (all.size() > kKernelRows) all.resize(kKernelRows);
    s.kernels = std::move(all);
  }

  if (auto end = sql::meta(db, "end_ts")) {
    s.duration_ns = std::strtoll(end->c_str(), nullptr, 10);
  }
  if (s.duration_ns <= 0) {
    // An interrupted recording has no end_ts: use the latest event seen.
    for (const char* q :
         {"SELECT max(ts + dur) FROM thread_state", "SELECT max(ts + dur) FROM syscall",
          "SELECT max(ts) FROM wakeup", "SELECT max(ts + dur) FROM block_io"}) {
      sql::Stmt st(db, q);
      if (st.ok() && st.step() == SQLITE_ROW && !st.is_null(0))
        max_end = std::max(max_end, st.i64(0));
    }
    s.duration_ns = max_end;
  }
  return s;
}

nlohmann::json to_json(const TraceStats& s) {
  using nlohmann::json;
  json procs = json::array();
  for (const ProcessStats& p : s.processes) {
    procs.push_back({{"pid", p.pid},
                     {"name", p.name},
                     {"cmdline", p.cmdline},
                     {"threads", p.threads},
                     {"cuda_calls", p.cuda_calls}});
  }
  json apis = json::array();
  for (const ApiStats& a : s.apis) {
    apis.push_back({{"name", a.name},
                    {"count", a.count},
                    {"total_ns", a.total_ns},
                    {"p50_ns", a.p50_ns},
                    {"p95_ns", a.p95_ns},
                    {"p99_ns", a.p99_ns},
                    {"max_ns", a.max_ns},
                    {"bytes", a.bytes},
                    {"errors", a.errors}});
  }
  json kernels = json::array();
  for (const KernelStats& k : s.kernels) {
    json row{{"name", nullptr}, {"launches", k.launches}};
    if (k.name.empty()) {
      row["addr"] = hex(k.addr);
    } else {
      row["name"] = k.name;
    }
    kernels.push_back(std::move(row));
  }
  return json{{"duration_ns", s.duration_ns},
              {"complete", s.complete},
              {"host", s.host},
              {"kernel_release", s.kernel_release},
              {"tool_version", s.tool_version},
              {"processes", std::move(procs)},
              {"events", s.events},
              {"total_events", s.total_events},
              {"drops", s.drops},
              {"total_drops", s.total_drops},
              {"apis", std::move(apis)},
              {"kernels", std::move(kernels)},
              {"kernels_total", s.kernels_total}};
}

Result<TraceStats> stats_from_json(const nlohmann::json& j) {
  try {
    TraceStats s;
    s.duration_ns = j.at("duration_ns").get<int64_t>();
    s.complete = j.value("complete", false);
    s.host = j.value("host", "");
    s.kernel_release = j.value("kernel_release", "");
    s.tool_version = j.value("tool_version", "");
    for (const auto& p : j.at("processes")) {
      s.processes.push_back({p.value("pid", 0), p.value("name", ""), p.value("cmdline", ""),
                             p.value("threads", int64_t{0}), p.value("cuda_calls", int64_t{0})});
    }
    s.events = j.at("events").get<std::map<std::string, int64_t>>();
    s.drops = j.at("drops").get<std::map<std::string, int64_t>>();
    s.total_events = j.value("total_events", int64_t{0});
    s.total_drops = j.value("total_drops", int64_t{0});
    for (const auto& a : j.at("apis")) {
      ApiStats x;
      x.name = a.at("name").get<std::string>();
      x.count = a.value("count", int64_t{0});
      x.total_ns = a.value("total_ns", int64_t{0});
      x.p50_ns = a.value("p50_ns", int64_t{0});
      x.p95_ns = a.value("p95_ns", int64_t{0});
      x.p99_ns = a.value("p99_ns", int64_t{0});
      x.max_ns = a.value("max_ns", int64_t{0});
      x.bytes = a.value("bytes", int64_t{0});
      x.errors = a.value("errors", int64_t{0});
      s.apis.push_back(std::move(x));
    }
    // Absent from statistics stored by older causeway versions.
    for (const auto& k : j.value("kernels", nlohmann::json::array())) {
      KernelStats x;
      if (k.contains("name") && k["name"].is_string()) x.name = k["name"].get<std::string>();
      if (k.contains("addr") && k["addr"].is_string()) {
        x.addr = std::strtoull(k["addr"].get<std::string>().c_str(), nullptr, 16);
      }
      x.launches = k.value("launches", int64_t{0});
      s.kernels.push_back(std::move(x));
    }
    s.kernels_total = j.value("kernels_total", static_cast<int64_t>(s.kernels.size()));
    return s;
  } catch (const nlohmann::json::exception& e) {
    return Status::Error(std::string("The stored trace statistics are malformed (") + e.what() +
                         ").");
  }
}

namespace {
std::string bytes_or_dash(int64_t b) {
  if (b <= 0) return "-";
  char buf[32];
  const double v = static_cast<double>(b);
  if (b < 1024)
    std::snprintf(buf, sizeof buf, "%lld B", static_cast<long long>(b));
  else if (b < 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f KiB", v / 1024);
  else if (b < 1024LL * 1024 * 1024)
    std::snprintf(buf, sizeof buf, "%.1f MiB", v / 1048576.0);
  else
    std::snprintf(buf, sizeof buf, "%.2f GiB", v / 1073741824.0);
  return buf;
}
}  // namespace

std::string format_stats_text(const TraceStats& s) {
  std::string out;
  char line[512];
  out += "duration   " + format_duration(s.duration_ns) +
         (s.complete ? "" : "  (recording incomplete: the file was not closed cleanly)") + "\n";
  if (!s.host.empty())
    out += "host       " + terminal_safe(s.host) +
           (s.kernel_release.empty() ? "" : ", Linux " + terminal_safe(s.kernel_release)) + "\n";
  out += "processes  " + std::to_string(s.processes.size()) + " traced\n";
  for (const ProcessStats& p : s.processes) {
    std::snprintf(line, sizeof line, "  %-8d %-16s %3lld threads %10lld CUDA calls", p.pid,
                  terminal_safe(p.name).c_str(), static_cast<long long>(p.threads),
                  static_cast<long long>(p.cuda_calls));
    out += line;
    if (!p.cmdline.empty()) out += "  " + terminal_safe(p.cmdline.substr(0, 60));
    out += "\n";
  }
  out += "events     " + std::to_string(s.total_events) + "\n";
  for (const auto& [t, n] : s.events) {
    std::snprintf(line, sizeof line, "  %-14s %12lld\n", t.c_str(), static_cast<long long>(n));
    out += line;
  }
  out += "drops      " + std::to_string(s.total_drops) +
         (s.total_drops == 0 ? " (no events lost)" : " events lost") + "\n";
  for (const auto& [src, n] : s.drops) {
    if (n == 0) continue;
    std::snprintf(line, sizeof line, "  %-14s %12lld%s\n", src.c_str(), static_cast<long long>(n),
                  store::is_ring_drop_source(src) ? ""
                  : src == "stack_copy"           ? "  (not lost: stack copies not made)"
                                                  : "  (not lost: returns without their entry)");
    out += line;
  }
  if (s.apis.empty()) {
    out += "CUDA       no CUDA calls recorded\n";
    return out;
  }
  out += "\nCUDA API (by total time)\n";
  std::snprintf(line, sizeof line, "  %-28s %9s %11s %10s %10s %10s %10s %11s\n", "function",
                "calls", "total", "p50", "p95", "p99", "max", "bytes");
  out += line;
  for (const ApiStats& a : s.apis) {
    std::snprintf(line, sizeof line, "  %-28s %9lld %11s %10s %10s %10s %10s %11s%s\n",
                  terminal_safe(a.name).c_str(), static_cast<long long>(a.count),
                  format_duration(a.total_ns).c_str(), format_duration(a.p50_ns).c_str(),
                  format_duration(a.p95_ns).c_str(), format_duration(a.p99_ns).c_str(),
                  format_duration(a.max_ns).c_str(), bytes_or_dash(a.bytes).c_str(),
                  a.errors ? ("  " + std::to_string(a.errors) + " errors").c_str() : "");
    out += line;
  }
  if (s.kernels.empty()) return out;
  out += "\nCUDA kernels (by runtime launches)\n";
  std::snprintf(line, sizeof line, "  %9s  %s\n", "launches", "kernel");
  out += line;
  for (const KernelStats& k : s.kernels) {
    std::snprintf(line, sizeof line, "  %9lld  ", static_cast<long long>(k.launches));
    out += line;
    out += k.name.empty() ? hex(k.addr) + " (not named; docs/stacks.md#kernel-names)"
                          : terminal_safe(k.name);
    out += "\n";
  }
  if (s.kernels_total > static_cast<int64_t>(s.kernels.size())) {
    out += "  (" + std::to_string(s.kernels_total - static_cast<int64_t>(s.kernels.size())) +
           " more kernels)\n";
  }
  return out;
}

}  // namespace causeway::analyze
