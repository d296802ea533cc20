#include "report/timeline_views.h"

#include <algorithm>
#include <cstdio>
#include <map>
#include <optional>
#include <set>
#include <utility>

#include "store/cpu_holders.h"
#include "store/sql_util.h"

namespace causeway::report {
namespace {

using analyze::Chain;
using analyze::TaskRef;
using store::sql::query_error;
using store::sql::Stmt;

// Holders named in a runnable interval's tooltip; the rest are summed as "and N others".
constexpr size_t kTooltipHolders = 3;

// An evidence row found in its table.
struct Located {
  std::string table;
  int64_t id = 0;
  int64_t ts = 0;
  int64_t dur = 0;
  int64_t utid = 0;
  int64_t end() const { return ts + std::max<int64_t>(0, dur); }
};

bool is_event_table(const std::string& t) {
  return t == "cuda_call" || t == "thread_state" || t == "syscall" || t == "block_io" ||
         t == "cpu_slice";
}

std::string task_label(const std::string& name, int64_t pid, int64_t tid) {
  std::string s = name.empty() ? "?" : name;
  s += " (";
  if (pid != 0 && pid != tid) s += "pid " + std::to_string(pid) + ", ";
  s += "tid " + std::to_string(tid) + ")";
  return s;
}

class ViewBuilder {
 public:
  ViewBuilder(sqlite3* db, const TimelineLimits& limits) : db_(db), limits_(limits) {}

  Result<TimelineView> build(const Chain& chain) {
    TimelineView v;
    v.chain_id = chain.id;
    std::set<std::pair<std::string, int64_t>> cited;
    std::vector<Located> located;
    for (const auto& e : chain.evidence) {
      if (!is_event_table(e.table)) continue;
      cited.insert({e.table, e.id});
      auto row = locate(e.table, e.id);
      if (!row.ok()) return row.status();
      if (*row) located.push_back(**row);
    }
    auto subject = utid_of(chain.subject);
    if (!subject.ok()) return subject.status();
    choose_window(chain, located, *subject, v);

    // Lanes: who the chain is about first, then everyone it names, then the threads of its
    // evidence inside the window, then whoever woke the slowed thread there.
    std::vector<std::pair<int64_t, std::string>> wanted;
    auto want_task = [&](const TaskRef& t, const char* role) -> Status {
      if (t.tid == 0) return Status::Ok();
      auto u = utid_of(t);
      if (!u.ok()) return u.status();
      if (*u) wanted.push_back({**u, role});
      return Status::Ok();
    };
    if (*subject) wanted.push_back({**subject, "slowed thread"});
    if (chain.culprit) {
      if (Status st = want_task(*chain.culprit, "culprit"); !st.ok()) return st;
    }
    for (const auto& w : chain.waker_chain) {
      if (Status st = want_task(w.task, "waker"); !st.ok()) return st;
    }
    for (const auto& p : chain.preempters) {
      if (Status st = want_task(p.task, "held its CPU"); !st.ok()) return st;
    }
    for (const auto& b : chain.blocked) {
      if (b.waker) {
        if (Status st = want_task(*b.waker, "waker"); !st.ok()) return st;
      }
    }
    for (const auto& l : located) {
      if (l.end() >= v.start_ns && l.ts < v.end_ns) wanted.push_back({l.utid, "evidence"});
    }
    if (*subject) {
      auto wakers = top_wakers(**subject, v.start_ns, v.end_ns);
      if (!wakers.ok()) return wakers.status();
      for (int64_t u : *wakers) wanted.push_back({u, "waker"});
    }
    std::set<int64_t> seen;
    for (const auto& [utid, role] : wanted) {
      if (!seen.insert(utid).second) continue;
      auto lane = lane_info(utid, role);
      if (!lane.ok()) return lane.status();
      // An untraced thread has no rows of its own: its lane would be empty. The culprit
      // keeps one anyway (it names who is to blame; the slowed thread's runnable intervals
      // show when it ran); other untraced threads are named in the tooltips.
      if (!lane->traced && role != "culprit") continue;
      if (v.lanes.size() >= limits_.max_lanes) {
        ++v.omitted_lanes;
        continue;
      }
      v.lanes.push_back(std::move(*lane));
    }

    cpus_.clear();
    for (size_t i = 0; i < v.lanes.size(); ++i) {
      if (Status st = add_events(v, static_cast<int>(i), cited); !st.ok()) return st;
    }
    // After the traced lanes, whose states say which CPUs matter here.
    for (size_t i = 0; i < v.lanes.size(); ++i) {
      if (Status st = add_held_cpu(v, static_cast<int>(i), cited); !st.ok()) return st;
    }
    cap_events(v);
    if (Status st = add_wakeups(v); !st.ok()) return st;
    return v;
  }

 private:
  Result<std::optional<Located>> locate(const std::string& table, int64_t id) {
    // `table` is one of the four event tables (is_event_table), never user text.
    Stmt& q = prepared("SELECT ts, dur, utid FROM " + table + " WHERE id = ?1");
    if (!q.ok()) return query_error(db_, table + " rows");
    q.bind(1, id);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<Located>();
    if (rc != SQLITE_ROW) return query_error(db_, table + " rows");
    return std::optional<Located>(Located{table, id, q.i64(0), q.i64(1), q.i64(2)});
  }

  // The thread a chain names: its tid, preferring the process it is said to belong to and
  // the most recent use of a reused tid.
  Result<std::optional<int64_t>> utid_of(const TaskRef& t) {
    if (t.tid <= 0) return std::optional<int64_t>();
    Stmt& q = prepared(
        "SELECT t.utid FROM thread t LEFT JOIN process p ON p.upid = t.upid WHERE t.tid = ?1 "
        "ORDER BY coalesce(p.pid, t.tid) = ?2 DESC, t.traced DESC, t.utid DESC LIMIT 1");
    if (!q.ok()) return query_error(db_, "threads");
    q.bind(1, t.tid);
    q.bind(2, t.pid);
    const int rc = q.step();
    if (rc == SQLITE_DONE) return std::optional<int64_t>();
    if (rc != SQLITE_ROW) return query_error(db_, "threads");
    return std::optional<int64_t>(q.i64(0));
  }

  Result<TimelineLane> lane_info(int64_t utid, const std::string& role) {
    Stmt& q = prepared(
        "SELECT t.tid, coalesce(p.pid, t.tid), coalesce(t.name, ''), coalesce(p.name, ''), "
        "t.traced FROM thread t LEFT JOIN process p ON p.upid = t.upid WHERE t.utid = ?1");
    if (!q.ok()) return query_error(db_, "threads");
    q.bind(1, utid);
    TimelineLane l;
    l.utid = utid;
    l.role = role;
    const int rc = q.step();
    if (rc == SQLITE_ROW) {
      l.tid = static_cast<int32_t>(q.i64(0));
      l.pid = static_cast<int32_t>(q.i64(1));
      l.thread = q.text(2);
      l.process = q.text(3);
      l.traced = q.i64(4) != 0;
    } else if (rc != SQLITE_DONE) {
      return query_error(db_, "threads");
    }
    return l;
  }

  // The threads that woke `utid` in [start, end), most wakeups first (at most 3).
  Result<std::vector<int64_t>> top_wakers(int64_t utid, int64_t start, int64_t end) {
    Stmt& q = prepared(
        "SELECT waker_utid, count(*) AS n FROM wakeup WHERE wakee_utid = ?1 AND ts >= ?2 AND "
        "ts < ?3 AND waker_utid IS NOT NULL AND waker_utid != ?1 GROUP BY waker_utid "
        "ORDER BY n DESC, waker_utid LIMIT 3");
    if (!q.ok()) return query_error(db_, "wakeups");
    q.bind(1, utid);
    q.bind(2, start);
    q.bind(3, end);
    std::vector<int64_t> out;
    int rc;
    while ((rc = q.step()) == SQLITE_ROW) out.push_back(q.i64(0));
    if (rc != SQLITE_DONE) return query_error(db_, "wakeups");
    return out;
  }

  void choose_window(const Chain& chain, const std::vector<Located>& located,
                     std::optional<int64_t> subject, TimelineView& v) const {
    const int64_t max_window = std::max<int64_t>(limits_.max_window_ns, 1000);
    int64_t lo, hi;
    if (located.empty()) {
      // Nothing to anchor on: the start of the affected span.
      lo = chain.window_start_ns;
      hi = std::max(lo, std::min(chain.window_end_ns, lo + max_window / 8));
    } else {
      // The anchor is the longest cited interval of the slowed thread (the slow call, the
      // longest wait): that is what a reader wants to see first.
      const Located* anchor = nullptr;
      for (const auto& l : located) {
        const bool own = subject && l.utid == *subject;
        const bool anchor_own = anchor && subject && anchor->utid == *subject;
        if (!anchor || (own && !anchor_own) || (own == anchor_own && l.dur > anchor->dur)) {
          anchor = &l;
        }
      }
      lo = anchor->ts;
      hi = anchor->end();
      // Other evidence joins the window when it is close to the anchor and the window stays
      // short enough to read.
      const int64_t reach = std::max<int64_t>(4 * (hi - lo), 4'000'000);
      std::vector<const Located*> near;
      for (const auto& l : located) near.push_back(&l);
      std::sort(near.begin(), near.end(), [&](const Located* a, const Located* b) {
        return std::llabs(a->ts - anchor->ts) < std::llabs(b->ts - anchor->ts);
      });
      for (const Located* l : near) {
        if (l->ts < lo - reach || l->end() > hi + reach) continue;
        const int64_t nlo = std::min(lo, l->ts), nhi = std::max(hi, l->end());
        if (nhi - nlo > max_window * 4 / 5) continue;
        lo = nlo;
        hi = nhi;
      }
    }
    v.focus_start_ns = lo;
    v.focus_end_ns = hi;
    // Some context around the evidence: an eighth of its span on each side, and at least
    // min_window_ns in all, so a short interval is seen among its neighbours.
    int64_t pad = std::max<int64_t>((hi - lo) / 8, 200'000);
    const int64_t min_window = std::min(limits_.min_window_ns, max_window);
    if (hi - lo + 2 * pad < min_window) pad = (min_window - (hi - lo)) / 2;
    v.start_ns = std::max<int64_t>(0, lo - pad);
    v.end_ns = std::min(hi + pad, v.start_ns + max_window);
  }

  // Rows of `table` on one thread that overlap [start, end): those starting inside it plus
  // the few starting just before it (the index is on (utid, ts); intervals of one thread
  // nest at most a few deep, so the last `lookback` rows before `start` cover every one
  // that straddles it).
  static std::string window_where(const char* table, const char* alias, int lookback) {
    const std::string a = alias;
    return " WHERE " + a + ".utid = ?1 AND " + a + ".ts >= (SELECT coalesce(min(ts), ?2) FROM " +
           "(SELECT ts FROM " + table + " WHERE utid = ?1 AND ts < ?2 ORDER BY ts DESC LIMIT " +
           std::to_string(lookback) + ")) AND " + a + ".ts < ?3 AND " + a + ".ts + " + a +
           ".dur > ?2 ORDER BY " + a + ".ts";
  }

  Status add_events(TimelineView& v, int lane,
                    const std::set<std::pair<std::string, int64_t>>& cited) {
    const int64_t utid = v.lanes[static_cast<size_t>(lane)].utid;
    auto bind = [&](Stmt& q) {
      q.bind(1, utid);
      q.bind(2, v.start_ns);
      q.bind(3, v.end_ns);
    };
    auto push = [&](EventKind kind, int64_t id, int64_t ts, int64_t dur, std::string name,
                    std::string detail) {
      TimelineEvent e;
      e.lane = lane;
      e.kind = kind;
      e.id = id;
      e.ts_ns = ts;
      e.dur_ns = std::max<int64_t>(0, dur);
      e.name = std::move(name);
      e.detail = std::move(detail);
      e.evidence = cited.count({event_table(kind), id}) > 0;
      v.events.push_back(std::move(e));
    };
    int rc;
    std::vector<Runnable> runnable;
    {
      Stmt& q = prepared(
          "SELECT x.id, x.ts, x.dur, x.state, x.cpu, sn.name, x.syscall_nr, wt.tid, wt.name, "
          "coalesce(wp.pid, wt.tid), pt.tid, pt.name, coalesce(pp.pid, pt.tid) "
          "FROM thread_state x LEFT JOIN syscall_name sn ON sn.nr = x.syscall_nr "
          "LEFT JOIN thread wt ON wt.utid = x.waker_utid "
          "LEFT JOIN process wp ON wp.upid = wt.upid "
          "LEFT JOIN thread pt ON pt.utid = x.preempter_utid "
          "LEFT JOIN process pp ON pp.upid = pt.upid" +
          window_where("thread_state", "x", 4));
      if (!q.ok()) return query_error(db_, "thread states");
      bind(q);
      static constexpr const char* kStates[] = {"running", "runnable", "sleeping",
                                                "uninterruptible", "other"};
      while ((rc = q.step()) == SQLITE_ROW) {
        const int64_t state = std::clamp<int64_t>(q.i64(3), 0, 4);
        std::string detail;
        if (auto cpu = q.opt_i64(4)) {
          detail = "CPU " + std::to_string(*cpu);
          if (state <= 1) cpus_.insert(*cpu);
        }
        auto add = [&](const std::string& clause) {
          detail = detail.empty() ? clause : clause + " · " + detail;
        };
        if (state == 1) {
          // Who held the CPU is filled in below from cpu_slice; the task that switched in
          // when the thread left the CPU is kept for intervals nothing else covers.
          runnable.push_back(
              {v.events.size(), detail,
               q.is_null(10) ? std::string() : task_label(q.text(11), q.i64(12), q.i64(10))});
        }
        if (state == 2 || state == 3) {
          std::string sys = !q.is_null(5)   ? q.text(5)
                            : !q.is_null(6) ? "syscall_" + std::to_string(q.i64(6))
                                            : std::string();
          std::string clause = sys.empty() ? std::string() : "in " + sys;
          if (!q.is_null(7)) {
            clause += std::string(clause.empty() ? "" : ", ") + "woken by " +
                      task_label(q.text(8), q.i64(9), q.i64(7));
          }
          if (!clause.empty()) add(clause);
        }
        push(static_cast<EventKind>(static_cast<int>(EventKind::kRunning) + state), q.i64(0),
             q.i64(1), q.i64(2), kStates[state], detail);
      }
      if (rc != SQLITE_DONE) return query_error(db_, "thread states");
      if (Status st = describe_runnable(v, utid, runnable); !st.ok()) return st;
    }
    {
      Stmt& q = prepared(
          "SELECT c.id, c.ts, c.dur, coalesce(fs.str, '?'), c.ret, c.bytes, c.copy_kind, "
          "ks.str FROM cuda_call c LEFT JOIN string fs ON fs.id = c.function_id "
          "LEFT JOIN cuda_kernel k ON k.id = c.kernel_id "
          "LEFT JOIN string ks ON ks.id = k.name_id" +
          window_where("cuda_call", "c", 8));
      if (!q.ok()) return query_error(db_, "CUDA calls");
      bind(q);
      static constexpr const char* kKinds[] = {"HtoH", "HtoD", "DtoH", "DtoD", "default"};
      std::vector<int64_t> open;  // end times of the enclosing calls
      while ((rc = q.step()) == SQLITE_ROW) {
        std::string detail;
        auto add = [&](const std::string& clause) {
          detail += (detail.empty() ? "" : " · ") + clause;
        };
        if (auto b = q.opt_i64(5)) add(format_bytes(*b));
        if (auto k = q.opt_i64(6); k && *k >= 0 && *k <= 4) add(kKinds[*k]);
        if (!q.is_null(7)) add("kernel " + q.text(7));
        if (q.i64(4) != 0) add("returned error " + std::to_string(q.i64(4)));
        const int64_t ts = q.i64(1), end = ts + std::max<int64_t>(0, q.i64(2));
        while (!open.empty() && open.back() <= ts) open.pop_back();
        push(EventKind::kCuda, q.i64(0), ts, q.i64(2), q.text(3), detail);
        v.events.back().depth = static_cast<int>(open.size());
        open.push_back(end);
      }
      if (rc != SQLITE_DONE) return query_error(db_, "CUDA calls");
    }
    {
      Stmt& q = prepared(
          "SELECT y.id, y.ts, y.dur, coalesce(sn.name, 'syscall_' || y.nr), y.ret, y.fd, "
          "y.bytes FROM syscall y LEFT JOIN syscall_name sn ON sn.nr = y.nr" +
          window_where("syscall", "y", 4));
      if (!q.ok()) return query_error(db_, "syscalls");
      bind(q);
      while ((rc = q.step()) == SQLITE_ROW) {
        const int64_t id = q.i64(0), dur = q.i64(2);
        if (dur < limits_.min_syscall_ns && cited.count({"syscall", id}) == 0) continue;
        std::string detail;
        auto add = [&](const std::string& clause) {
          detail += (detail.empty() ? "" : " · ") + clause;
        };
        if (auto fd = q.opt_i64(5)) add("fd " + std::to_string(*fd));
        if (auto b = q.opt_i64(6)) add(format_bytes(*b) + " requested");
        if (auto r = q.opt_i64(4); r && *r < 0) add("returned " + std::to_string(*r));
        push(EventKind::kSyscall, id, q.i64(1), dur, q.text(3), detail);
      }
      if (rc != SQLITE_DONE) return query_error(db_, "syscalls");
    }
    {
      Stmt& q = prepared(
          "SELECT b.id, b.ts, b.dur, b.op, b.bytes, b.dev, b.queue_dur, b.service_dur, "
          "b.error FROM block_io b" +
          window_where("block_io", "b", 8));
      if (!q.ok()) return query_error(db_, "block I/O");
      bind(q);
      while ((rc = q.step()) == SQLITE_ROW) {
        const std::string op = q.text(3);
        std::string name = op == "R"   ? "read"
                           : op == "W" ? "write"
                           : op == "F" ? "flush"
                           : op == "D" ? "discard"
                                       : "I/O";
        name += " " + format_bytes(q.i64(4));
        const int64_t dev = q.i64(5);
        std::string detail =
            "device " + std::to_string(dev >> 20) + ":" + std::to_string(dev & ((1 << 20) - 1));
        if (auto qd = q.opt_i64(6)) detail += " · queued " + format_duration(*qd);
        if (auto sd = q.opt_i64(7)) detail += " · device " + format_duration(*sd);
        if (q.i64(8) != 0) detail += " · error " + std::to_string(q.i64(8));
        push(EventKind::kBlockIo, q.i64(0), q.i64(1), q.i64(2), name, detail);
      }
      if (rc != SQLITE_DONE) return query_error(db_, "block I/O");
    }
    return Status::Ok();
  }

  // A runnable event of a lane, before its tooltip says who held the CPU.
  struct Runnable {
    size_t event;           // index in v.events
    std::string cpu;        // "CPU 3" or empty
    std::string preempter;  // the task that switched in when it left the CPU, or empty
  };

  // Tooltips of the lane's runnable intervals: who held their CPU meanwhile (cpu_slice),
  // with idle and unrecorded time. One query per lane and window (store/cpu_holders.h).
  Status describe_runnable(TimelineView& v, int64_t utid, const std::vector<Runnable>& runnable) {
    if (runnable.empty()) return Status::Ok();
    std::map<int64_t, store::CpuHolders> by_state;
    if (has_slices()) {
      Stmt& q = prepared(store::runnable_holders_sql(
          "x.utid = ?1 AND x.ts >= (SELECT coalesce(min(ts), ?2) FROM (SELECT ts FROM "
          "thread_state WHERE utid = ?1 AND ts < ?2 ORDER BY ts DESC LIMIT 4)) AND x.ts < ?3 "
          "AND x.ts + x.dur > ?2",
          /*grouped=*/true));
      if (!q.ok()) return query_error(db_, "CPU holders");
      q.bind(1, utid);
      q.bind(2, v.start_ns);
      q.bind(3, v.end_ns);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        store::HolderRow r = store::read_holder_row(q);
        store::CpuHolders& h = by_state[r.state_id];
        h.span_ns = r.state_dur;
        h.add(std::move(r.holder), r.ns);
      }
      if (rc != SQLITE_DONE) return query_error(db_, "CPU holders");
    }
    for (const Runnable& r : runnable) {
      TimelineEvent& e = v.events[r.event];
      store::CpuHolders h;
      auto it = by_state.find(e.id);
      if (it != by_state.end()) h = std::move(it->second);
      h.span_ns = e.dur_ns;
      h.finish();
      std::string text = store::describe_holders(h, kTooltipHolders, format_duration);
      if (!h.recorded() && !r.preempter.empty()) text += "; switched in first: " + r.preempter;
      e.detail = r.cpu.empty() ? text : text + " · " + r.cpu;
    }
    return Status::Ok();
  }

  // When the lane's task held the CPUs the window's traced threads ran or waited on: every
  // such cpu_slice row for an untraced lane (its only rows), the cited ones for a traced lane
  // (its running states already show the rest). Seeks on cpu_slice_by_cpu per CPU.
  Status add_held_cpu(TimelineView& v, int lane,
                      const std::set<std::pair<std::string, int64_t>>& cited) {
    const TimelineLane& l = v.lanes[static_cast<size_t>(lane)];
    if (cpus_.empty() || !has_slices()) return Status::Ok();
    Stmt& q = prepared(
        "SELECT id, ts, dur FROM cpu_slice WHERE cpu = ?1 AND ts >= (SELECT coalesce(min(ts), "
        "?2) FROM (SELECT ts FROM cpu_slice WHERE cpu = ?1 AND ts <= ?2 ORDER BY ts DESC LIMIT "
        "2)) AND ts < ?3 AND ts + dur > ?2 AND utid = ?4 ORDER BY ts");
    if (!q.ok()) return query_error(db_, "CPU slices");
    for (int64_t cpu : cpus_) {
      q.reset();
      q.bind(1, cpu);
      q.bind(2, v.start_ns);
      q.bind(3, v.end_ns);
      q.bind(4, l.utid);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        const int64_t id = q.i64(0);
        const bool cite = cited.count({"cpu_slice", id}) > 0;
        if (l.traced && !cite) continue;
        TimelineEvent e;
        e.lane = lane;
        e.kind = EventKind::kHeldCpu;
        e.id = id;
        e.ts_ns = q.i64(1);
        e.dur_ns = std::max<int64_t>(0, q.i64(2));
        e.name = "held CPU " + std::to_string(cpu);
        e.detail = "on the CPU a traced thread here ran on or waited for";
        e.evidence = cite;
        v.events.push_back(std::move(e));
      }
      if (rc != SQLITE_DONE) return query_error(db_, "CPU slices");
    }
    return Status::Ok();
  }

  bool has_slices() {
    if (!has_slices_) has_slices_ = store::sql::has_table(db_, "cpu_slice");
    return *has_slices_;
  }

  // Keeps every cited event and, of the rest, the longest ones (short ones are invisible
  // until one zooms far in; the cap keeps the report small whatever the trace).
  void cap_events(TimelineView& v) const {
    if (v.events.size() > limits_.max_events) {
      std::stable_sort(v.events.begin(), v.events.end(),
                       [](const TimelineEvent& a, const TimelineEvent& b) {
                         if (a.evidence != b.evidence) return a.evidence;
                         return a.dur_ns > b.dur_ns;
                       });
      v.omitted_events = static_cast<int64_t>(v.events.size() - limits_.max_events);
      v.events.resize(limits_.max_events);
    }
    std::stable_sort(v.events.begin(), v.events.end(),
                     [](const TimelineEvent& a, const TimelineEvent& b) {
                       return a.lane != b.lane ? a.lane < b.lane : a.ts_ns < b.ts_ns;
                     });
  }

  Status add_wakeups(TimelineView& v) {
    std::map<int64_t, int> lane_of;
    for (size_t i = 0; i < v.lanes.size(); ++i) lane_of[v.lanes[i].utid] = static_cast<int>(i);
    Stmt& q = prepared(
        "SELECT w.id, w.ts, w.waker_utid, wt.tid, wt.name, coalesce(wp.pid, wt.tid) "
        "FROM wakeup w LEFT JOIN thread wt ON wt.utid = w.waker_utid "
        "LEFT JOIN process wp ON wp.upid = wt.upid "
        "WHERE w.wakee_utid = ?1 AND w.ts >= ?2 AND w.ts < ?3 ORDER BY w.ts");
    if (!q.ok()) return query_error(db_, "wakeups");
    for (size_t i = 0; i < v.lanes.size(); ++i) {
      q.reset();
      q.bind(1, v.lanes[i].utid);
      q.bind(2, v.start_ns);
      q.bind(3, v.end_ns);
      int rc;
      while ((rc = q.step()) == SQLITE_ROW) {
        if (v.wakeups.size() >= limits_.max_wakeups) {
          ++v.omitted_wakeups;
          continue;
        }
        TimelineWakeup w;
        w.id = q.i64(0);
        w.ts_ns = q.i64(1);
        w.to_lane = static_cast<int>(i);
        if (auto u = q.opt_i64(2)) {
          auto it = lane_of.find(*u);
          if (it != lane_of.end()) w.from_lane = it->second;
          w.waker = task_label(q.text(4), q.i64(5), q.i64(3));
        } else {
          w.waker = "an interrupt";
        }
        v.wakeups.push_back(std::move(w));
      }
      if (rc != SQLITE_DONE) return query_error(db_, "wakeups");
    }
    std::sort(v.wakeups.begin(), v.wakeups.end(),
              [](const TimelineWakeup& a, const TimelineWakeup& b) { return a.ts_ns < b.ts_ns; });
    return Status::Ok();
  }

  // The same few statements run for every window, lane and evidence row: each is prepared
  // once (by its text) and reset before each use.
  Stmt& prepared(const std::string& sql) {
    Stmt& q = statements_.try_emplace(sql, db_, sql).first->second;
    q.reset();
    return q;
  }

  sqlite3* db_;
  const TimelineLimits& limits_;
  std::map<std::string, Stmt> statements_;
  std::optional<bool> has_slices_;
  std::set<int64_t> cpus_;  // CPUs the current window's traced lanes ran or waited on
};

std::string three_digits(double v, const char* unit) {
  char buf[48];
  if (v >= 100)
    std::snprintf(buf, sizeof buf, "%.0f %s", v, unit);
  else if (v >= 10)
    std::snprintf(buf, sizeof buf, "%.1f %s", v, unit);
  else
    std::snprintf(buf, sizeof buf, "%.2f %s", v, unit);
  return buf;
}

}  // namespace

const char* event_table(EventKind kind) {
  switch (kind) {
    case EventKind::kCuda:
      return "cuda_call";
    case EventKind::kSyscall:
      return "syscall";
    case EventKind::kBlockIo:
      return "block_io";
    case EventKind::kHeldCpu:
      return "cpu_slice";
    default:
      return "thread_state";
  }
}

std::string format_duration(int64_t ns) {
  const double v = static_cast<double>(ns);
  // -INT64_MIN is not representable (it stayed negative and recursed forever): saturate.
  if (ns < 0) return "-" + format_duration(ns == INT64_MIN ? INT64_MAX : -ns);
  if (ns < 1000) return std::to_string(ns) + " ns";
  if (ns < 1'000'000) return three_digits(v / 1e3, "\xC2\xB5s");
  if (ns < 1'000'000'000) return three_digits(v / 1e6, "ms");
  return three_digits(v / 1e9, "s");
}

std::string format_bytes(int64_t bytes) {
  if (bytes < 1024) return std::to_string(bytes) + " B";
  const char* units[] = {"KiB", "MiB", "GiB", "TiB"};
  double v = static_cast<double>(bytes) / 1024;
  int u = 0;
  while (v >= 1024 && u < 3) {
    v /= 1024;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.1f %s", v, units[u]);
  return buf;
}

Result<std::vector<TimelineView>> build_timeline_views(sqlite3* db,
                                                       const std::vector<analyze::Chain>& chains,
                                                       const TimelineLimits& limits) {
  std::vector<TimelineView> views;
  ViewBuilder b(db, limits);
  for (size_t i = 0; i < chains.size() && i < limits.max_views; ++i) {
    auto v = b.build(chains[i]);
    if (!v.ok()) return v.status();
    views.push_back(std::move(*v));
  }
  return views;
}

}  // namespace causeway::report
