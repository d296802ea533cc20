// A limit on the SQL a thread runs on trace connections: a deadline and a cancel check.
//
// A trace file is untrusted input, and one SQL step on it can run for a long time (a table
// replaced by a recursive view, a correlated query on a huge dimension table). Every
// connection opened through store::open_trace_connection / Reader::open carries a progress
// handler that consults the budget of the calling thread, so a budget set around a piece of
// work (an MCP tool call, an analysis) stops every statement it runs — on any of those
// connections, including private ones the analysis opens — with SQLITE_INTERRUPT.
// Without a budget in scope nothing is limited (the CLI: the user can press Ctrl-C).
//
// Usage: { store::ReadBudget b(std::chrono::seconds(300), [&] { return cancelled(); });
//          ... queries ...; if (b.stopped()) ... }
// Budgets nest: the innermost one applies; the outer one is restored on destruction.
// Thread-safety: a budget belongs to the thread that created it (thread-local).
#pragma once

#include <chrono>
#include <functional>
#include <string>

namespace causeway::store {

class ReadBudget {
 public:
  // `limit` is wall-clock time from construction; `cancelled` (optional) is polled too.
  explicit ReadBudget(std::chrono::milliseconds limit, std::function<bool()> cancelled = {});
  ~ReadBudget();
  ReadBudget(const ReadBudget&) = delete;
  ReadBudget& operator=(const ReadBudget&) = delete;

  // Whether a statement was stopped by this budget, and why.
  bool stopped() const { return timed_out_ || cancelled_; }
  bool timed_out() const { return timed_out_; }
  bool cancelled() const { return cancelled_; }
  int64_t limit_ms() const { return limit_.count(); }
  // One sentence saying why work stopped ("" when it did not).
  std::string reason() const;

  // For the progress handler: true when the calling thread's budget is spent (recording
  // why). Cheap when no budget is in scope.
  static bool spent_on_this_thread();

 private:
  std::chrono::milliseconds limit_;
  std::chrono::steady_clock::time_point deadline_;
  std::function<bool()> cancel_check_;
  ReadBudget* outer_ = nullptr;
  bool timed_out_ = false;
  bool cancelled_ = false;
};

}  // namespace causeway::store
