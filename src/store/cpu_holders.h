// Who held the CPU while a traced thread waited for it: for a runnable thread_state interval,
// the tasks that ran on its CPU during [ts, ts + dur), with their time, plus how long the CPU
// sat idle and how much of the interval no cpu_slice row covers (unknown). One place for the
// SQL and the arithmetic, shared by the report timeline, the Perfetto export and the MCP
// get_timeline tool (the analysis has its own in-memory copy of cpu_slice, see
// analyze/decompose.cpp, and applies the same rules).
//
// Rules, as in the analysis: a slice counts for the part of it inside the interval; a slice
// naming the waiting thread itself (a clock skew between two records) counts as unknown, the
// thread cannot hold the CPU it waits for; time no slice covers is unknown, never idle.
//
// Cost: the SQL joins each selected interval to cpu_slice through the (cpu, ts) index
// (cpu_slice_by_cpu), a range seek per interval, so a window costs its intervals' slices,
// never a scan of the table. Units: ns. Thread-safety: plain values and functions.
#pragma once

#include <cstdint>
#include <functional>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "store/sql_util.h"

namespace causeway::store {

struct CpuHolder {
  int64_t utid = 0;
  int64_t tid = 0;
  int64_t pid = 0;      // its process's pid (the tid when the thread has no process row)
  std::string comm;     // thread name, may be empty
  std::string process;  // process name, may be empty
  bool traced = false;
  int64_t ns = 0;  // time it held the CPU inside the interval
};

struct CpuHolders {
  int64_t span_ns = 0;             // the interval's length
  std::vector<CpuHolder> holders;  // most time first (ties: lower utid); after finish()
  int64_t idle_ns = 0;             // the CPU was idle
  int64_t unknown_ns = 0;          // not recorded; after finish()
  bool recorded() const { return covered_ns_ > 0; }  // some slice covered part of it

  // Adds `ns` held by `h` (h.ns ignored), or idle time when `h` is nullopt. Rows of one
  // holder may come in several pieces; they are summed.
  void add(std::optional<CpuHolder> h, int64_t ns);
  // Sorts the holders and computes unknown_ns = span - covered (never negative).
  void finish();

 private:
  int64_t covered_ns_ = 0;
};

// The SQL listing, for the runnable thread_state rows (alias x) that satisfy `condition`
// (an SQL boolean over x and the caller's positional parameters, e.g.
// "x.utid = ?1 AND x.ts < ?3 AND x.ts + x.dur > ?2"), who held that row's CPU during it.
// Columns, in order (HolderCol):
//   state_id, state_utid, state_ts, state_dur   the interval
//   holder_utid (NULL = the CPU was idle), holder_tid, holder_pid, holder_comm,
//   holder_process, holder_traced, ns           a piece of it
// Rows are ordered by (state_utid, state_ts, state_dur DESC, state_id), the pieces of one
// interval consecutive. grouped = false: one row per slice overlap, streamed in index order
// (for whole-trace exports; no sort of the result). grouped = true: one row per (interval,
// holder), fewer rows for a bounded window (SQLite sorts the window's result).
// An interval no slice overlaps has no rows. The trace must have a cpu_slice table.
std::string runnable_holders_sql(std::string_view condition, bool grouped);

enum HolderCol : int {
  kHolderStateId = 0,
  kHolderStateUtid,
  kHolderStateTs,
  kHolderStateDur,
  kHolderUtid,
  kHolderTid,
  kHolderPid,
  kHolderComm,
  kHolderProcess,
  kHolderTraced,
  kHolderNs,
};

// One row of runnable_holders_sql(), as read from a statement stepped onto it.
struct HolderRow {
  int64_t state_id = 0;
  int64_t state_utid = 0;
  int64_t state_ts = 0;
  int64_t state_dur = 0;
  std::optional<CpuHolder> holder;  // nullopt: the CPU was idle
  int64_t ns = 0;
};
HolderRow read_holder_row(const sql::Stmt& s);

// "spinner (pid 4121, tid 4130)"; the pid is left out when it equals the tid.
std::string holder_label(const CpuHolder& h);

// One line for people: "CPU held by spinner (pid 5, tid 6) 1.34 s, sim-gpu (pid 5, tid 7)
// 120 µs and 3 others 2.10 ms; idle 1.00 ms; unknown 3.00 ms". At most `top` holders are
// named. An interval with nothing recorded: "who held the CPU was not recorded". `dur`
// formats a duration in ns.
std::string describe_holders(const CpuHolders& h, size_t top,
                             const std::function<std::string(int64_t)>& dur);

}  // namespace causeway::store
