#include "analyze/python_gil.h"

#include <algorithm>
#include <functional>
#include <map>
#include <nlohmann/json.hpp>
#include <unordered_map>

#include "store/sql_util.h"

namespace causeway::analyze {

namespace sql = store::sql;

namespace {

constexpr int64_t kEtimedout = -110;
// Futex words this close together belong to one object (a condition variable's two words
// and the mutex next to it).
constexpr int64_t kSameObjectBytes = 8;
// The GIL's mutex and switch condition sit in the same structure as its condition variable.
constexpr int64_t kGilStructBytes = 128;
// A run of the waiter's own CPU time longer than this means it got the GIL on its own (the
// holder let go without a signal): the timed-out waits before it are a separate episode.
constexpr int64_t kEpisodeBreakNs = 1'000'000;
// At most this many threads are searched for the one on a CPU during a wait no signal ended.
constexpr size_t kMaxHolderCandidates = 64;

int64_t median(std::vector<int64_t> v) {
  if (v.empty()) return 0;
  std::nth_element(v.begin(), v.begin() + static_cast<std::ptrdiff_t>(v.size() / 2), v.end());
  return v[v.size() / 2];
}

// Futex words of one object: consecutive addresses at most kSameObjectBytes apart.
struct Family {
  int64_t lo = 0, hi = 0;
  std::set<int32_t> waiters;
  std::vector<int64_t> timeouts;  // durations of timed-out waits, ns
  int64_t sibling_wakes = 0;      // waits ended by another thread of the process
};

// The running time of `thread` overlapping [s, e).
int64_t on_cpu_during(const TraceData& d, int32_t thread, int64_t s, int64_t e) {
  const Range r = d.thread_states[static_cast<size_t>(thread)];
  int64_t ns = 0;
  for (size_t i = d.first_state_after(thread, s); i < r.end; ++i) {
    const StateRow& x = d.states[i];
    if (x.ts >= e) break;
    if (x.state != kRunning) continue;
    ns += std::max<int64_t>(0, std::min(e, x.end()) - std::max(s, x.ts));
  }
  return ns;
}

}  // namespace

GilFindings find_gil_waits(TraceData& d, const std::vector<FutexWait>& waits,
                           const std::set<int32_t>& python_pids) {
  GilFindings out;
  // Waits by process, then by futex word.
  std::map<int32_t, std::vector<const FutexWait*>> by_pid;
  for (const FutexWait& w : waits) {
    if (w.state >= d.states.size()) continue;
    const StateRow& r = d.states[w.state];
    const int32_t pid = d.threads[static_cast<size_t>(r.thread)].pid;
    if (python_pids.count(pid)) by_pid[pid].push_back(&w);
  }
  size_t most_timeouts = 0;
  for (auto& [pid, ws] : by_pid) {
    std::sort(ws.begin(), ws.end(),
              [](const FutexWait* a, const FutexWait* b) { return a->addr < b->addr; });
    std::vector<Family> fams;
    for (const FutexWait* w : ws) {
      if (fams.empty() || w->addr - fams.back().hi > kSameObjectBytes) {
        fams.push_back(Family{w->addr, w->addr, {}, {}, 0});
      }
      Family& f = fams.back();
      f.hi = w->addr;
      const StateRow& r = d.states[w->state];
      f.waiters.insert(r.thread);
      if (w->ret == kEtimedout) {
        f.timeouts.push_back(r.dur);
      } else if (r.waker_context == kWakeTask && r.waker >= 0 && r.waker != r.thread &&
                 d.threads[static_cast<size_t>(r.waker)].pid == pid) {
        ++f.sibling_wakes;
      }
    }
    // The GIL's condition variable: several waiters, repeated timeouts of about one length
    // (the switch interval), and signals from siblings.
    std::vector<const Family*> gil;  // in address order
    for (size_t i = 0; i < fams.size(); ++i) {
      const Family& f = fams[i];
      if (f.timeouts.size() < 3 || f.sibling_wakes < 1) continue;
      // Several threads wait on the structure (the GIL's condition, its mutex, its switch
      // condition): a thread's private timed wait is not the GIL. Families are sorted and
      // disjoint, so the neighbours within reach are the adjacent ones.
      std::set<int32_t> waiters(f.waiters.begin(), f.waiters.end());
      for (size_t j = i; j-- > 0 && fams[j].hi >= f.lo - kGilStructBytes;) {
        waiters.insert(fams[j].waiters.begin(), fams[j].waiters.end());
      }
      for (size_t j = i + 1; j < fams.size() && fams[j].lo <= f.hi + kGilStructBytes; ++j) {
        waiters.insert(fams[j].waiters.begin(), fams[j].waiters.end());
      }
      if (waiters.size() < 2) continue;
      const int64_t m = median(f.timeouts);
      if (m < 100'000 || m > 1'000'000'000) continue;
      size_t near = 0;
      for (int64_t t : f.timeouts) {
        if (t * 10 >= m * 7 && t * 2 <= m * 3) ++near;  // 0.7x .. 1.5x: overshoot is common
      }
      if (near * 5 < f.timeouts.size() * 3) continue;  // 60% of them
      gil.push_back(&f);
      if (f.timeouts.size() > most_timeouts) {
        most_timeouts = f.timeouts.size();
        out.switch_interval_ns = m;
      }
    }
    if (gil.empty()) continue;
    // The first GIL family whose reach ends at or after `addr` decides (binary search).
    auto is_gil = [&](int64_t addr) {
      auto it = std::lower_bound(gil.begin(), gil.end(), addr, [](const Family* g, int64_t a) {
        return g->hi + kGilStructBytes < a;
      });
      return it != gil.end() && addr >= (*it)->lo - kGilStructBytes;
    };
    std::map<int32_t, std::vector<const FutexWait*>> by_thread;
    for (const FutexWait* w : ws) {
      if (!is_gil(w->addr)) continue;
      out.addresses.insert(w->addr);
      by_thread[d.states[w->state].thread].push_back(w);
    }
    // The threads of the process that take the GIL, most GIL waits first; the fallback holder
    // is looked for among the first kMaxHolderCandidates of them (bounded work per wait).
    std::vector<std::pair<size_t, int32_t>> takers;
    for (const auto& [t, tw] : by_thread) takers.push_back({tw.size(), t});
    std::sort(takers.begin(), takers.end(), std::greater<>());
    if (takers.size() > kMaxHolderCandidates) takers.resize(kMaxHolderCandidates);
    std::vector<int32_t> gil_threads;
    for (const auto& [n, t] : takers) gil_threads.push_back(t);
    // Holders, thread by thread in time order.
    for (auto& [bound_thread, tw] : by_thread) {
      // A copy for the lambda below: clang 14 cannot capture structured bindings.
      const int32_t thread = bound_thread;
      std::sort(tw.begin(), tw.end(),
                [](const FutexWait* a, const FutexWait* b) { return a->state < b->state; });
      std::vector<size_t> pending;  // timed-out waits not yet ended by a signal
      auto flush = [&](int32_t holder) {
        for (size_t i : pending) {
          const StateRow& r = d.states[i];
          int32_t h = holder;
          if (h < 0) {  // who ran on a CPU meanwhile, among the threads that take the GIL
            int64_t best = 0;
            for (int32_t o : gil_threads) {
              if (o == thread) continue;
              const int64_t ns = on_cpu_during(d, o, r.ts, r.end());
              if (ns > best) {
                best = ns;
                h = o;
              }
            }
          }
          d.gil_holder[r.id] = h;
        }
        pending.clear();
      };
      size_t prev = 0;
      bool have_prev = false;
      for (const FutexWait* w : tw) {
        // Did the thread run long, or block on something else, since its previous GIL wait?
        if (have_prev && !pending.empty()) {
          int64_t ran = 0;
          bool other_block = false;
          for (size_t i = prev + 1; i < w->state; ++i) {
            const StateRow& x = d.states[i];
            if (x.state == kRunning) ran += x.dur;
            if (x.state >= kSleeping) other_block = true;
          }
          if (other_block || ran > kEpisodeBreakNs) flush(-1);
        }
        const StateRow& r = d.states[w->state];
        pending.push_back(w->state);
        if (w->ret != kEtimedout && r.waker_context == kWakeTask && r.waker >= 0 &&
            r.waker != thread && d.threads[static_cast<size_t>(r.waker)].pid == pid) {
          flush(r.waker);
        } else if (w->ret != kEtimedout) {
          flush(-1);  // ended otherwise (an interrupt, a signal): by whoever ran meanwhile
        }
        prev = w->state;
        have_prev = true;
      }
      flush(-1);
    }
  }
  return out;
}

namespace {

std::set<int32_t> python_processes(sqlite3* db, const TraceData& d) {
  std::set<int32_t> pids;
  if (auto py = sql::meta(db, "python")) {
    const nlohmann::json j = nlohmann::json::parse(*py, nullptr, false);
    if (j.is_object()) {
      for (const auto& [pid, v] : j.items()) {
        char* end = nullptr;
        const long p = std::strtol(pid.c_str(), &end, 10);
        if (end && *end == '\0' && p > 0) pids.insert(static_cast<int32_t>(p));
      }
    }
  }
  for (const ThreadInfo& t : d.threads) {
    if (t.traced && t.process.rfind("python", 0) == 0) pids.insert(t.pid);
  }
  return pids;
}

}  // namespace

Status load_gil_waits(sqlite3* db, TraceData& d) {
  const std::set<int32_t> pids = python_processes(db, d);
  if (pids.empty()) return Status::Ok();
  // Blocked states of the Python processes' threads, by id.
  std::unordered_map<int64_t, size_t> index;
  nlohmann::json utids = nlohmann::json::array();
  for (size_t t = 0; t < d.threads.size(); ++t) {
    if (!pids.count(d.threads[t].pid)) continue;
    utids.push_back(d.threads[t].utid);
    const Range r = d.thread_states[t];
    for (size_t i = r.begin; i < r.end; ++i) {
      if (d.states[i].state >= kSleeping) index.emplace(d.states[i].id, i);
    }
  }
  if (index.empty()) return Status::Ok();
  const bool py_stacks = sql::has_table(db, "python_frame");
  sql::Stmt s(db, std::string("SELECT s.id, y.addr, coalesce(y.ret, 0), ") +
                      (py_stacks ? "coalesce(s.py_stack_id, 0)" : "0") +
                      " FROM thread_state s JOIN syscall y ON y.id = s.syscall_id "
                      "WHERE s.syscall_nr = 202 AND s.state >= 2 AND y.addr IS NOT NULL AND "
                      "s.utid IN (SELECT value FROM json_each(?1))");
  if (!s.ok()) return sql::query_error(db, "futex waits");
  s.bind(1, utids.dump());
  std::vector<FutexWait> waits;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    auto it = index.find(s.i64(0));
    if (it == index.end()) continue;
    waits.push_back(FutexWait{it->second, s.i64(1), s.i64(2), s.i64(3)});
  }
  if (rc != SQLITE_DONE) return sql::query_error(db, "futex waits");
  const GilFindings found = find_gil_waits(d, waits, pids);
  if (found.addresses.empty() || !py_stacks) return Status::Ok();

  // Where each holder ran Python: the most frequent innermost frame of its own GIL waits
  // (the stack it had when it let the GIL go).
  std::map<int32_t, std::map<int64_t, std::pair<int64_t, const FutexWait*>>> stacks;
  std::set<int32_t> holders;
  for (const auto& [id, h] : d.gil_holder) {
    if (h >= 0) holders.insert(h);
  }
  for (const FutexWait& w : waits) {
    const int32_t t = d.states[w.state].thread;
    if (!w.py_stack || !holders.count(t) || !found.addresses.count(w.addr)) continue;
    auto& e = stacks[t][w.py_stack];
    if (e.first++ == 0) e.second = &w;
  }
  sql::Stmt f(db,
              "SELECT function, coalesce(file, ''), coalesce(line, 0) FROM python_frame "
              "WHERE stack_id = ?1 ORDER BY depth LIMIT 1");
  if (!f.ok()) return Status::Ok();  // an older layout: no lines, the rest stands
  for (const auto& [thread, by_stack] : stacks) {
    const std::pair<int64_t, const FutexWait*>* best = nullptr;
    int64_t best_stack = 0;
    for (const auto& [stack, e] : by_stack) {
      if (!best || e.first > best->first) {
        best = &e;
        best_stack = stack;
      }
    }
    f.reset();
    f.bind(1, best_stack);
    if (f.step() != SQLITE_ROW) continue;
    const StateRow& r = d.states[best->second->state];
    d.gil_holder_line[thread] = TraceData::PyLine{f.text(0), f.text(1), f.i64(2), r.id, r.ts};
  }
  return Status::Ok();
}

}  // namespace causeway::analyze
