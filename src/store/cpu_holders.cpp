#include "store/cpu_holders.h"

#include <algorithm>

namespace causeway::store {

void CpuHolders::add(std::optional<CpuHolder> h, int64_t ns) {
  if (ns <= 0) return;
  covered_ns_ += ns;
  if (!h) {
    idle_ns += ns;
    return;
  }
  for (CpuHolder& c : holders) {
    if (c.utid == h->utid) {
      c.ns += ns;
      return;
    }
  }
  h->ns = ns;
  holders.push_back(std::move(*h));
}

void CpuHolders::finish() {
  std::sort(holders.begin(), holders.end(), [](const CpuHolder& a, const CpuHolder& b) {
    return a.ns != b.ns ? a.ns > b.ns : a.utid < b.utid;
  });
  unknown_ns = std::max<int64_t>(0, span_ns - covered_ns_);
}

std::string runnable_holders_sql(std::string_view condition, bool grouped) {
  // The slice straddling the interval's start is the latest one starting at or before it
  // (slices of one CPU do not overlap); the lower bound looks back two rows so that one
  // duplicate start cannot hide it. Both bounds are seeks on cpu_slice_by_cpu (cpu, ts).
  const std::string ns = "min(s.ts + s.dur, x.ts + x.dur) - max(s.ts, x.ts)";
  std::string sql =
      "SELECT x.id, x.utid, x.ts, x.dur, s.utid, t.tid, coalesce(p.pid, t.tid), "
      "coalesce(t.name, ''), coalesce(p.name, ''), coalesce(t.traced, 0), " +
      (grouped ? "sum(" + ns + ")" : ns) +
      " FROM thread_state x JOIN cpu_slice s ON s.cpu = x.cpu "
      "AND s.ts >= (SELECT coalesce(min(ts), x.ts) FROM (SELECT ts FROM cpu_slice "
      "WHERE cpu = x.cpu AND ts <= x.ts ORDER BY ts DESC LIMIT 2)) "
      "AND s.ts < x.ts + x.dur AND s.ts + s.dur > x.ts "
      // The waiting thread cannot hold its own CPU: such a piece (clock skew) stays unknown.
      "AND s.utid IS NOT x.utid "
      "LEFT JOIN thread t ON t.utid = s.utid LEFT JOIN process p ON p.upid = t.upid "
      "WHERE x.state = 1 AND x.dur > 0 AND (" +
      std::string(condition) + ")";
  if (grouped) {
    sql += " GROUP BY x.id, s.utid ORDER BY x.utid, x.ts, x.dur DESC, x.id, 11 DESC";
  } else {
    sql += " ORDER BY x.utid, x.ts, x.dur DESC, x.id, s.ts";
  }
  return sql;
}

HolderRow read_holder_row(const sql::Stmt& s) {
  HolderRow r;
  r.state_id = s.i64(kHolderStateId);
  r.state_utid = s.i64(kHolderStateUtid);
  r.state_ts = s.i64(kHolderStateTs);
  r.state_dur = s.i64(kHolderStateDur);
  if (!s.is_null(kHolderUtid)) {
    CpuHolder h;
    h.utid = s.i64(kHolderUtid);
    h.tid = s.i64(kHolderTid);
    h.pid = s.i64(kHolderPid);
    h.comm = s.text(kHolderComm);
    h.process = s.text(kHolderProcess);
    h.traced = s.i64(kHolderTraced) != 0;
    r.holder = std::move(h);
  }
  r.ns = s.i64(kHolderNs);
  return r;
}

std::string holder_label(const CpuHolder& h) {
  std::string s = h.comm.empty() ? "?" : h.comm;
  s += " (";
  if (h.pid != 0 && h.pid != h.tid) s += "pid " + std::to_string(h.pid) + ", ";
  s += "tid " + std::to_string(h.tid) + ")";
  return s;
}

std::string describe_holders(const CpuHolders& h, size_t top,
                             const std::function<std::string(int64_t)>& dur) {
  if (!h.recorded()) return "who held the CPU was not recorded";
  std::string s;
  if (!h.holders.empty()) {
    s = "CPU held by ";
    const size_t named = std::min(top, h.holders.size());
    for (size_t i = 0; i < named; ++i) {
      if (i) s += ", ";
      s += holder_label(h.holders[i]) + " " + dur(h.holders[i].ns);
    }
    if (named < h.holders.size()) {
      int64_t rest = 0;
      for (size_t i = named; i < h.holders.size(); ++i) rest += h.holders[i].ns;
      const size_t n = h.holders.size() - named;
      s += " and " + std::to_string(n) + (n == 1 ? " other " : " others ") + dur(rest);
    }
  }
  auto clause = [&](const char* what, int64_t ns) {
    if (ns <= 0) return;
    s += (s.empty() ? std::string() : std::string("; ")) + what + " " + dur(ns);
  };
  clause(h.holders.empty() ? "CPU idle" : "idle", h.idle_ns);
  clause("unknown", h.unknown_ns);
  return s;
}

}  // namespace causeway::store
