// Checks 1-3 of docs/verify.md: sweeps over time-ordered scheduling rows.
//
// One CPU at a time, the running and runnable thread_state rows of that CPU (sorted by ts)
// are walked together with its cpu_slice rows (sorted by ts, on the cpu_slice_by_cpu index).
// A window holds the slices that may still overlap the interval being looked at: slices that
// ended before it are dropped (later intervals start later), slices are pulled in until one
// starts after it. Each interval therefore looks only at the slices overlapping it, and the
// whole check costs one sort of thread_state plus linear work in the rows and their overlaps.
#include <sqlite3.h>

#include <algorithm>
#include <deque>
#include <optional>
#include <string>

#include <nlohmann/json.hpp>

#include "store/sql_util.h"
#include "store/trace_meta.h"
#include "verify/checks.h"

namespace causeway::verify::detail {
namespace {

using store::sql::Stmt;

struct StateRow {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t end = 0;
  int64_t utid = 0;
  int64_t state = 0;
  int64_t cpu = 0;
};

struct SliceRow {
  int64_t id = 0;
  int64_t ts = 0;
  int64_t end = 0;
  int64_t cpu = 0;
  std::optional<int64_t> utid;  // nullopt = idle
};

// A statement stepped one row at a time, remembering whether it failed.
class Cursor {
 public:
  Cursor(sqlite3* db, std::string_view sql) : stmt_(db, sql) {}
  bool prepared() const { return stmt_.ok(); }
  // Steps; false at the end or on an error (failed() tells which).
  bool next() {
    const int rc = stmt_.step();
    if (rc == SQLITE_ROW) return valid_ = true;
    failed_ = rc != SQLITE_DONE;
    return valid_ = false;
  }
  bool valid() const { return valid_; }
  bool failed() const { return failed_ || !stmt_.ok(); }
  const Stmt& row() const { return stmt_; }

 private:
  Stmt stmt_;
  bool valid_ = false;
  bool failed_ = false;
};

StateRow read_state(const Stmt& s) {
  StateRow r;
  r.id = s.i64(0);
  r.ts = s.i64(1);
  r.end = sat_add(r.ts, s.i64(2));
  r.utid = s.i64(3);
  r.state = s.i64(4);
  r.cpu = s.i64(5);
  return r;
}

SliceRow read_slice(const Stmt& s) {
  SliceRow r;
  r.id = s.i64(0);
  r.ts = s.i64(1);
  r.end = sat_add(r.ts, s.i64(2));
  r.cpu = s.i64(3);
  r.utid = s.opt_i64(4);
  return r;
}

std::string holder(const std::optional<int64_t>& utid) {
  return utid ? "utid " + std::to_string(*utid) : std::string("idle");
}

std::string describe_slice(const SliceRow& s) {
  return "cpu_slice " + std::to_string(s.id) + " (cpu " + std::to_string(s.cpu) + ", " +
         holder(s.utid) + ", " + span(s.ts, s.end) + ")";
}

// What the coverage check may not hold against the trace, or "" when it runs in full.
struct CoveragePlan {
  bool slices = false;  // the file has cpu_slice rows at all
  bool enabled = false;
  // Waits whose only uncovered time is at most slack_ns right where they began (the instant a
  // thread is queued the recorder may not yet know who holds that CPU: a few microseconds
  // unknown change nobody's share of the wait), counted here for a note.
  int64_t slack_ns = 0;
  int64_t* at_queueing = nullptr;
};

Result<CoveragePlan> plan_coverage(sqlite3* db, CheckResult& exclusive, CheckResult& coverage) {
  CoveragePlan plan;
  if (!store::sql::has_table(db, "cpu_slice")) {
    const std::string why =
        "the trace has no cpu_slice table (recorded before causeway recorded who held each "
        "CPU), so there is nothing to compare with.";
    coverage.skipped = why;
    exclusive.notes.push_back("cpu_slice rows not checked: " + why);
    return plan;
  }
  Stmt any(db, "SELECT 1 FROM cpu_slice LIMIT 1");
  if (!any.ok()) return store::sql::query_error(db, "cpu_slice");
  const int rc = any.step();
  if (rc != SQLITE_ROW && rc != SQLITE_DONE) return store::sql::query_error(db, "cpu_slice");
  plan.slices = rc == SQLITE_ROW;
  if (!plan.slices) {
    const std::string why =
        "the trace has no cpu_slice rows (its recorder did not record who held each CPU), so "
        "there is nothing to compare with.";
    coverage.skipped = why;
    exclusive.notes.push_back("cpu_slice rows not checked: " + why);
    return plan;
  }
  const store::TraceDrops drops =
      store::parse_trace_drops(store::sql::meta(db, "drops"), store::sql::meta(db, "drops_total"));
  if (auto it = drops.by_source.find("sched"); it != drops.by_source.end() && it->second > 0) {
    coverage.skipped = "the recorder lost " + std::to_string(it->second) +
                       " scheduler events (meta drops, sched), so CPU holders may be missing "
                       "anywhere in the trace.";
    return plan;
  }
  // A recorder stopped before its end (killed; `causeway finish` cannot recover its counts)
  // wrote no event_counts: the switches it missed, which leave gaps, are unknown.
  const std::optional<std::string> event_counts = store::sql::meta(db, "event_counts");
  if (!event_counts && store::sql::meta(db, "complete").value_or("0") != "1") {
    coverage.skipped =
        "the recorder stopped before writing meta event_counts (it was killed), so it is not "
        "known how many context switches it missed, and where CPU holders are unknown.";
    return plan;
  }
  // Switches the recorder knows it missed (a traced thread seen leaving a CPU it was never
  // seen taking; a CPU's switch numbers jumping): who held the CPU is unknown around them.
  int64_t missed = 0;
  try {
    const auto counts = nlohmann::json::parse(event_counts.value_or("{}"));
    for (const char* key : {"switches_missed", "cpu_seq_gaps", "cpu_holder_breaks"}) {
      if (counts.contains(key) && counts[key].is_number_integer())
        missed += counts[key].get<int64_t>();
    }
  } catch (const nlohmann::json::exception&) {
  }
  if (missed > 0) {
    coverage.skipped = "the recorder reports " + std::to_string(missed) +
                       " context switches it missed or could not pair (meta event_counts: "
                       "switches_missed, cpu_seq_gaps, cpu_holder_breaks), so CPU holders are "
                       "unknown around them.";
    return plan;
  }
  plan.enabled = true;
  return plan;
}

// The per-CPU sweep state.
class CpuSweep {
 public:
  CpuSweep(int64_t cpu, std::optional<int64_t> first_slice_ts, const CoveragePlan& plan,
           Tally& exclusive, Tally& coverage)
      : cpu_(cpu),
        first_slice_ts_(first_slice_ts),
        plan_(plan),
        exclusive_(exclusive),
        coverage_(coverage) {}

  // Takes the next slice of this CPU (in ts order); `keep` = it may overlap a later interval.
  void add_slice(const SliceRow& s, bool keep) {
    if (widest_slice_ && s.ts < widest_slice_->end) {
      const SliceRow prev = *widest_slice_;
      exclusive_.add("cpu_slice rows overlapping on one CPU", [&] {
        return describe_slice(s) + " overlaps " + describe_slice(prev) +
               ": a CPU has one holder at a time.";
      });
    }
    if (!widest_slice_ || s.end > widest_slice_->end) widest_slice_ = s;
    if (keep) window_.push_back(s);
  }

  // Drops the slices that end before `ts`: no interval from now on can overlap them.
  void forget_before(int64_t ts) {
    while (!window_.empty() && window_.front().end <= ts) window_.pop_front();
  }

  void running(const StateRow& r) {
    if (widest_run_ && r.ts < widest_run_->end && r.utid != widest_run_->utid) {
      const StateRow prev = *widest_run_;
      exclusive_.add("running intervals of different threads overlapping on one CPU", [&] {
        return "thread_state " + std::to_string(r.id) + " has utid " + std::to_string(r.utid) +
               " running on cpu " + std::to_string(cpu_) + " over " + span(r.ts, r.end) +
               " while thread_state " + std::to_string(prev.id) + " has utid " +
               std::to_string(prev.utid) + " running there over " + span(prev.ts, prev.end) + ".";
      });
    }
    if (!widest_run_ || r.end > widest_run_->end) widest_run_ = r;
    for (const SliceRow& s : window_) {
      if (s.ts >= r.end) break;
      if (std::min(s.end, r.end) <= std::max(s.ts, r.ts) || s.utid == r.utid) continue;
      exclusive_.add("cpu_slice rows naming another holder during a traced thread's run", [&] {
        return describe_slice(s) + " says " + holder(s.utid) + " held cpu " + std::to_string(cpu_) +
               ", but thread_state " + std::to_string(r.id) + " has utid " +
               std::to_string(r.utid) + " running there over " + span(r.ts, r.end) + ".";
      });
    }
  }

  void runnable(const StateRow& r) {
    if (!plan_.enabled || r.end <= r.ts) return;
    // Before the first slice of a CPU the recorder had not yet seen two switches there.
    if (first_slice_ts_ && r.ts < *first_slice_ts_) return;
    int64_t frontier = r.ts;
    int64_t covered = 0;
    std::optional<std::pair<int64_t, int64_t>> gap;
    for (const SliceRow& s : window_) {
      if (s.ts >= r.end) break;
      const int64_t lo = std::max(s.ts, frontier);
      const int64_t hi = std::min(s.end, r.end);
      if (hi <= lo) continue;
      if (lo > frontier && !gap) gap = {frontier, lo};
      covered += hi - lo;
      frontier = hi;
    }
    if (frontier < r.end && !gap) gap = {frontier, r.end};
    const int64_t uncovered = (r.end - r.ts) - covered;
    if (uncovered <= 0) return;
    if (first_slice_ts_ && gap && gap->first == r.ts && gap->second - gap->first == uncovered &&
        uncovered <= plan_.slack_ns && plan_.at_queueing) {
      ++*plan_.at_queueing;
      return;
    }
    coverage_.add("runnable intervals not covered by cpu_slice rows", [&] {
      std::string s = "thread_state " + std::to_string(r.id) + " (utid " + std::to_string(r.utid) +
                      " runnable on cpu " + std::to_string(cpu_) + " over " + span(r.ts, r.end) +
                      ") has " + std::to_string(uncovered) + " ns with no cpu_slice of cpu " +
                      std::to_string(cpu_);
      if (!first_slice_ts_) {
        s += " (cpu " + std::to_string(cpu_) + " has no cpu_slice rows at all)";
      } else {
        s += " (first gap " + span(gap->first, gap->second) + ")";
      }
      return s + ".";
    });
  }

 private:
  int64_t cpu_;
  std::optional<int64_t> first_slice_ts_;
  const CoveragePlan& plan_;
  Tally& exclusive_;
  Tally& coverage_;
  std::deque<SliceRow> window_;           // slices that may overlap the current interval
  std::optional<SliceRow> widest_slice_;  // the slice reaching furthest so far
  std::optional<StateRow> widest_run_;    // the running interval reaching furthest so far
};

}  // namespace

Status check_cpu_exclusive_and_coverage(const Context& ctx, CheckResult& exclusive,
                                        CheckResult& coverage) {
  auto plan_or = plan_coverage(ctx.db, exclusive, coverage);
  if (!plan_or.ok()) return plan_or.status();
  CoveragePlan plan = *plan_or;
  int64_t at_queueing = 0;
  plan.at_queueing = &at_queueing;
  plan.slack_ns = ctx.opts->queueing_slack_ns;
  Tally ex(exclusive, ctx.opts->max_per_kind);
  Tally cov(coverage, ctx.opts->max_per_kind);

  // thread_state has no (cpu, ts) index: SQLite sorts the running and runnable rows once,
  // in bounded memory (its sorter spills to temporary files).
  Cursor states(ctx.db,
                "SELECT id, ts, dur, utid, state, cpu FROM thread_state WHERE state IN (0, 1) "
                "AND cpu IS NOT NULL ORDER BY cpu, ts, id");
  if (!states.prepared()) return store::sql::query_error(ctx.db, "thread_state");
  std::optional<Cursor> slices;
  if (plan.slices) {
    slices.emplace(ctx.db, "SELECT id, ts, dur, cpu, utid FROM cpu_slice ORDER BY cpu, ts, id");
    if (!slices->prepared()) return store::sql::query_error(ctx.db, "cpu_slice");
    slices->next();
  }
  states.next();
  auto slice_valid = [&] { return slices && slices->valid(); };
  int64_t rows = 0;
  while (states.valid() || slice_valid()) {
    int64_t cpu = states.valid() ? states.row().i64(5) : slices->row().i64(3);
    if (slice_valid()) cpu = std::min(cpu, slices->row().i64(3));
    std::optional<int64_t> first_slice_ts;
    if (slice_valid() && slices->row().i64(3) == cpu) first_slice_ts = slices->row().i64(1);
    CpuSweep sweep(cpu, first_slice_ts, plan, ex, cov);
    while (states.valid() && states.row().i64(5) == cpu) {
      if ((++rows & 0xffff) == 0 && ctx.stop_requested()) return Status::Error("Stopped.");
      const StateRow r = read_state(states.row());
      sweep.forget_before(r.ts);
      while (slice_valid() && slices->row().i64(3) == cpu && slices->row().i64(1) < r.end) {
        sweep.add_slice(read_slice(slices->row()), true);
        slices->next();
      }
      if (r.state == 0)
        sweep.running(r);
      else
        sweep.runnable(r);
      states.next();
    }
    // The rest of this CPU's slices overlap no interval; only their mutual overlaps matter.
    while (slice_valid() && slices->row().i64(3) == cpu) {
      if ((++rows & 0xffff) == 0 && ctx.stop_requested()) return Status::Error("Stopped.");
      sweep.add_slice(read_slice(slices->row()), false);
      slices->next();
    }
  }
  if (states.failed()) return store::sql::query_error(ctx.db, "thread_state");
  if (slices && slices->failed()) return store::sql::query_error(ctx.db, "cpu_slice");
  if (at_queueing > 0) {
    coverage.notes.push_back(std::to_string(at_queueing) +
                             " runnable intervals had their first microseconds (at most " +
                             std::to_string(plan.slack_ns / 1000) +
                             " us, nothing after) without a known CPU holder; accepted.");
  }
  return Status::Ok();
}

Status check_thread_intervals(const Context& ctx, CheckResult& out) {
  Tally tally(out, ctx.opts->max_per_kind);
  // On the thread_state_by_thread (utid, ts) index when the trace is finished.
  Cursor states(ctx.db,
                "SELECT id, ts, dur, utid, state, cpu FROM thread_state ORDER BY utid, ts, id");
  if (!states.prepared()) return store::sql::query_error(ctx.db, "thread_state");
  static constexpr const char* kStateName[] = {"running", "runnable", "sleeping", "uninterruptible",
                                               "other"};
  auto name = [](int64_t state) {
    return state >= 0 && state <= 4 ? std::string(kStateName[state])
                                    : "state " + std::to_string(state);
  };
  std::optional<StateRow> widest;  // of the current thread: the interval reaching furthest
  int64_t rows = 0;
  while (states.next()) {
    if ((++rows & 0xffff) == 0 && ctx.stop_requested()) return Status::Error("Stopped.");
    const StateRow r = read_state(states.row());
    const int64_t dur = states.row().i64(2);
    if (dur < 0) {
      tally.add("intervals with a negative duration", [&] {
        return "thread_state " + std::to_string(r.id) + " (utid " + std::to_string(r.utid) + ", " +
               name(r.state) + " from " + std::to_string(r.ts) + " ns) has a negative duration (" +
               std::to_string(dur) + " ns).";
      });
      continue;
    }
    if (widest && widest->utid != r.utid) widest.reset();
    if (widest && r.ts < widest->end) {
      const StateRow prev = *widest;
      tally.add("overlapping intervals of one thread", [&] {
        return "thread_state " + std::to_string(r.id) + " (utid " + std::to_string(r.utid) + ", " +
               name(r.state) + " over " + span(r.ts, r.end) + ") overlaps thread_state " +
               std::to_string(prev.id) + " (" + name(prev.state) + " over " +
               span(prev.ts, prev.end) + ") of the same thread.";
      });
    }
    if (!widest || r.end > widest->end) widest = r;
  }
  if (states.failed()) return store::sql::query_error(ctx.db, "thread_state");
  return Status::Ok();
}

}  // namespace causeway::verify::detail
