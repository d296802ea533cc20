#include "verify/trace_verify.h"

#include <sqlite3.h>

#include <limits>
#include <sstream>

#include "store/sql_util.h"
#include "verify/checks.h"

namespace causeway::verify {
namespace detail {

void Tally::finish() {
  if (finished_) return;
  finished_ = true;
  for (const auto& [label, n] : per_kind_) {
    if (n > max_) {
      out_.summaries.push_back("... and " + std::to_string(n - max_) + " more " + label + ".");
    }
  }
}

int64_t sat_add(int64_t a, int64_t b) {
  int64_t out = 0;
  if (!__builtin_add_overflow(a, b, &out)) return out;
  return b > 0 ? std::numeric_limits<int64_t>::max() : std::numeric_limits<int64_t>::min();
}

std::string span(int64_t from, int64_t to) {
  return std::to_string(from) + ".." + std::to_string(to) + " ns";
}

bool has_column(sqlite3* db, std::string_view table, std::string_view column) {
  store::sql::Stmt s(db, "SELECT 1 FROM pragma_table_info(?1) WHERE name = ?2");
  if (!s.ok()) return false;
  s.bind(1, table);
  s.bind(2, column);
  return s.step() == SQLITE_ROW;
}

}  // namespace detail

namespace {

constexpr const char* kStopped = "The verification was stopped before it finished.";

int stop_check(void* opts) {
  const auto* o = static_cast<const VerifyOptions*>(opts);
  return o->should_stop() ? 1 : 0;
}

CheckResult make_check(const char* name, const char* description) {
  CheckResult c;
  c.name = name;
  c.description = description;
  return c;
}

}  // namespace

int64_t VerifyReport::total_violations() const {
  int64_t n = 0;
  for (const CheckResult& c : checks) n += c.violations;
  return n;
}

int VerifyReport::failed_checks() const {
  int n = 0;
  for (const CheckResult& c : checks) n += c.violations > 0 ? 1 : 0;
  return n;
}

Result<VerifyReport> verify_trace(sqlite3* db, const VerifyOptions& opts) {
  VerifyReport report;
  report.checks = {
      make_check("cpu_exclusive",
                 "each CPU runs one task at a time: running intervals of different threads on "
                 "one CPU do not overlap, cpu_slice rows of one CPU do not overlap, and no "
                 "cpu_slice names another holder while a traced thread runs there"),
      make_check("thread_intervals",
                 "each thread is in one state at a time: its thread_state intervals do not "
                 "overlap and none has a negative duration"),
      make_check("runnable_coverage",
                 "every runnable interval is covered by cpu_slice rows of its CPU (the tasks "
                 "or idle time that held it)"),
      make_check("unique_live_ids", "one thread row per live tid and one process row per live pid"),
      make_check("references", "every utid and upid a row names exists in thread / process"),
      make_check("chain_evidence", "every row a stored causal chain cites as evidence exists"),
      make_check("waker_context",
                 "waker_context agrees with waker_utid: a task wakeup (0) names its waker, an "
                 "interrupt, softirq, timer or NMI wakeup (1-4) does not"),
  };
  detail::Context ctx{db, &opts};
  if (opts.should_stop) {
    sqlite3_progress_handler(db, 10000, stop_check, const_cast<VerifyOptions*>(&opts));
  }
  auto& c = report.checks;
  Status st = detail::check_cpu_exclusive_and_coverage(ctx, c[0], c[2]);
  if (st.ok()) st = detail::check_thread_intervals(ctx, c[1]);
  if (st.ok()) st = detail::check_unique_live_ids(ctx, c[3]);
  if (st.ok()) st = detail::check_references(ctx, c[4]);
  if (st.ok()) st = detail::check_chain_evidence(ctx, c[5]);
  if (st.ok()) st = detail::check_waker_context(ctx, c[6]);
  if (opts.should_stop) sqlite3_progress_handler(db, 0, nullptr, nullptr);
  if (ctx.stop_requested()) return Status::Error(kStopped);
  if (!st.ok()) return st;
  return report;
}

std::string format_text(const VerifyReport& report, const std::string& path) {
  std::ostringstream out;
  int skipped = 0;
  for (const CheckResult& c : report.checks) {
    out << c.name << ": ";
    if (c.violations > 0) {
      out << c.violations << (c.violations == 1 ? " violation" : " violations");
    } else if (!c.skipped.empty()) {
      out << "skipped";
    } else {
      out << "ok";
    }
    // The description says what failed; passing checks stay one short line.
    if (c.violations > 0) out << " (" << c.description << ")";
    out << "\n";
    if (!c.skipped.empty()) {
      ++skipped;
      out << "  " << (c.violations > 0 ? "partly skipped: " : "skipped: ") << c.skipped << "\n";
    }
    for (const std::string& n : c.notes) out << "  note: " << n << "\n";
    for (const std::string& e : c.examples) out << "  - " << e << "\n";
    for (const std::string& s : c.summaries) out << "  " << s << "\n";
  }
  const size_t total = report.checks.size();
  if (report.ok()) {
    out << "OK: " << path << " passed " << (total - static_cast<size_t>(skipped)) << " of " << total
        << " checks";
    if (skipped > 0) out << " (" << skipped << " skipped, see above)";
    out << ".\n";
  } else {
    const int64_t n = report.total_violations();
    out << "FAILED: " << path << " has " << n << (n == 1 ? " violation" : " violations") << " in "
        << report.failed_checks() << " of " << total << " checks.\n";
  }
  return out.str();
}

nlohmann::json to_json(const VerifyReport& report) {
  nlohmann::json checks = nlohmann::json::array();
  for (const CheckResult& c : report.checks) {
    checks.push_back(
        {{"name", c.name},
         {"description", c.description},
         {"violations", c.violations},
         {"examples", c.examples},
         {"summaries", c.summaries},
         {"skipped", c.skipped.empty() ? nlohmann::json(nullptr) : nlohmann::json(c.skipped)},
         {"notes", c.notes}});
  }
  return {{"ok", report.ok()}, {"checks", std::move(checks)}};
}

std::string violation_text(const VerifyReport& report) {
  std::string out;
  for (const CheckResult& c : report.checks) {
    for (const std::string& e : c.examples) out += e + "\n";
    for (const std::string& s : c.summaries) out += s + "\n";
  }
  return out;
}

}  // namespace causeway::verify
