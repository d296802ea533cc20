// Consistency checks of a trace database (`causeway verify`, docs/verify.md).
//
// verify_trace() reads a trace and reports every place where the rows contradict each other
// or the schema's promises: two tasks running on one CPU at once, a thread in two states at
// once, a runnable interval with no known CPU holder, two rows for one live tid or pid,
// references to threads or processes that do not exist, causal chains citing rows that do not
// exist, and waker contexts that disagree with waker_utid. Each violation is one sentence
// naming the rows (table and id), threads (utid) and times (ns since the trace origin).
//
// Bounded cost: every check is one scan of a table, either sequential or ordered (on an
// index where the schema has one, else one SQLite sort) followed by a sweep over the sorted
// rows; nothing is pairwise. Memory stays small: at most the slices overlapping the interval
// being checked, and the thread and process tables. It never writes: callers pass a
// read-only connection (store::Reader).
//
// Thread-safety: verify_trace uses only the connection it is given; the formatting functions
// are pure.
#pragma once

#include <cstdint>
#include <functional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "common/result.h"

struct sqlite3;

namespace causeway::verify {

struct VerifyOptions {
  // Example sentences kept per kind of violation; beyond it a kind is summarised by count.
  int max_per_kind = 20;
  // A runnable interval whose only uncovered time is this much or less at its very start is
  // accepted (counted in a note): when a thread is queued, the recorder may learn who holds
  // that CPU only at the next switch there. ns.
  int64_t queueing_slack_ns = 50'000;
  // Polled while SQLite works (progress handler) and between rows; returning true stops the
  // verification with an error. Empty = never stop.
  std::function<bool()> should_stop;
};

// The outcome of one check.
struct CheckResult {
  std::string name;                   // stable identifier, e.g. "cpu_exclusive" (docs/verify.md)
  std::string description;            // what the check asserts, one line
  int64_t violations = 0;             // all violations found, including those not given as examples
  std::vector<std::string> examples;  // one sentence each; at most max_per_kind per kind
  std::vector<std::string> summaries;  // per kind with more than max_per_kind: the count left
  std::string skipped;  // non-empty: why the check (or part of it) could not run; not a failure
  std::vector<std::string> notes;  // facts that limit what the check could see
};

struct VerifyReport {
  std::vector<CheckResult> checks;  // always every check, in the documented order
  int64_t total_violations() const;
  int failed_checks() const;
  bool ok() const { return total_violations() == 0; }
};

// Runs every check on the trace open on `db`. Fails (one sentence) only when the trace cannot
// be read (a query fails, the file is corrupt) or should_stop asked to stop; violations are
// not failures, they are the report.
Result<VerifyReport> verify_trace(sqlite3* db, const VerifyOptions& opts = {});

// Human output: per check its status and sentences, then one verdict line naming `path`.
std::string format_text(const VerifyReport& report, const std::string& path);
// {"ok", "checks": [{"name", "description", "violations", "examples", "summaries",
// "skipped", "notes"}]}.
nlohmann::json to_json(const VerifyReport& report);
// Every violation sentence (examples, then summaries), one per line; "" when ok. For tests.
std::string violation_text(const VerifyReport& report);

}  // namespace causeway::verify
