#include "store/read_budget.h"

namespace causeway::store {
namespace {
thread_local ReadBudget* t_current = nullptr;
}  // namespace

ReadBudget::ReadBudget(std::chrono::milliseconds limit, std::function<bool()> cancelled)
    : limit_(limit),
      deadline_(std::chrono::steady_clock::now() + limit),
      cancel_check_(std::move(cancelled)),
      outer_(t_current) {
  t_current = this;
}

ReadBudget::~ReadBudget() {
  t_current = outer_;
}

std::string ReadBudget::reason() const {
  if (cancelled_) return "Cancelled by the client.";
  if (timed_out_) {
    return "Reading the trace stopped at its " + std::to_string(limit_.count() / 1000) +
           " s time limit; the trace is too large or was crafted to be slow to read.";
  }
  return "";
}

bool ReadBudget::spent_on_this_thread() {
  ReadBudget* b = t_current;
  if (b == nullptr) return false;
  if (b->timed_out_ || b->cancelled_) return true;
  if (std::chrono::steady_clock::now() >= b->deadline_) {
    b->timed_out_ = true;
    return true;
  }
  if (b->cancel_check_ && b->cancel_check_()) {
    b->cancelled_ = true;
    return true;
  }
  return false;
}

}  // namespace causeway::store
