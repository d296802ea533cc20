// Internals of the verify module: the violation tally the checks share, and the checks
// themselves (sched_checks.cpp: time-ordered sweeps over scheduling rows; row_checks.cpp:
// identities and references). Not a public interface: trace_verify.cpp runs them in order.
// Thread-safety: none; one verification runs on one thread.
#pragma once

#include <cstdint>
#include <map>
#include <optional>
#include <string>
#include <string_view>

#include "common/result.h"
#include "verify/trace_verify.h"

struct sqlite3;

namespace causeway::verify::detail {

// Counts violations per kind into a CheckResult and keeps the first max_per_kind sentences
// of each kind. The sentence is built only when it will be kept, so a trace with millions of
// violations costs a count, not millions of strings.
class Tally {
 public:
  Tally(CheckResult& out, int max_per_kind) : out_(out), max_(max_per_kind) {}
  ~Tally() { finish(); }
  Tally(const Tally&) = delete;
  Tally& operator=(const Tally&) = delete;

  // `kind_label` names the kind in the summary ("running intervals overlapping on one CPU").
  template <typename MakeSentence>
  void add(std::string_view kind_label, MakeSentence&& make) {
    int64_t& n = per_kind_[std::string(kind_label)];
    ++n;
    ++out_.violations;
    if (n <= max_) out_.examples.push_back(make());
  }
  // Writes the "and N more" summaries; idempotent.
  void finish();

 private:
  CheckResult& out_;
  int64_t max_;
  std::map<std::string, int64_t> per_kind_;
  bool finished_ = false;
};

// Shared context of one verification run.
struct Context {
  sqlite3* db = nullptr;
  const VerifyOptions* opts = nullptr;
  bool stop_requested() const { return opts->should_stop && opts->should_stop(); }
};

// a + b, clamped to int64 range (hostile files may hold any ts and dur).
int64_t sat_add(int64_t a, int64_t b);
// "1200..3400 ns"
std::string span(int64_t from, int64_t to);
bool has_column(sqlite3* db, std::string_view table, std::string_view column);

// Checks 1-3 (docs/verify.md). Each fills its CheckResult; an error means the trace could not
// be read.
Status check_cpu_exclusive_and_coverage(const Context& ctx, CheckResult& exclusive,
                                        CheckResult& coverage);
Status check_thread_intervals(const Context& ctx, CheckResult& out);
// Checks 4-7.
Status check_unique_live_ids(const Context& ctx, CheckResult& out);
Status check_references(const Context& ctx, CheckResult& out);
Status check_chain_evidence(const Context& ctx, CheckResult& out);
Status check_waker_context(const Context& ctx, CheckResult& out);

}  // namespace causeway::verify::detail
