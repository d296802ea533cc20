// Chain::stack: which code issued a chain's evidence calls, as a symbolized stack.
#include <sqlite3.h>

#include <memory>

#include "analyze/chains.h"
#include "store/sql_util.h"
#include "symbolize/stack_aggregate.h"
#include "symbolize/stack_symbols.h"

namespace causeway::analyze {
namespace {

// Enough to reach the user's code above the CUDA library frames; the full stacks are one
// `causeway stacks` / MCP get_stacks away.
constexpr size_t kMaxFrames = 8;

}  // namespace

void attach_stacks(sqlite3* db, std::vector<Chain>& chains) {
  std::unique_ptr<symbolize::StackSymbolizer> symbolizer;
  // How the trace took its stacks decides what the "walk stopped here" note advises.
  const std::string call_graph = store::sql::meta(db, "call_graph").value_or("");
  for (Chain& c : chains) {
    symbolize::StackQuery q;
    std::vector<int64_t> blocked;
    for (const EvidenceRef& e : c.evidence) {
      if (e.table == "cuda_call") q.event_ids.push_back(e.id);
      if (e.table == "thread_state") blocked.push_back(e.id);
    }
    if (q.event_ids.empty()) {
      q.source = symbolize::StackSource::kBlocked;
      q.event_ids = std::move(blocked);
    }
    if (q.event_ids.empty()) continue;
    if (!symbolizer) symbolizer = std::make_unique<symbolize::StackSymbolizer>(db);
    auto agg = symbolize::aggregate_stacks(db, *symbolizer, q);
    // A trace without stacks (or unreadable stack tables) simply has no stack to show.
    if (!agg.ok() || agg->stacks.empty()) continue;
    // The stack with the most total time (aggregate_stacks' order), not the most frequent: a
    // chain is about time lost, and the code path that lost most of it is the one to change;
    // many cheap calls from elsewhere would point away from it (docs/explain.md).
    const auto& top = agg->stacks.front();
    c.stack.clear();
    for (size_t i = 0; i < top.frames.size() && i < kMaxFrames; ++i) {
      c.stack.push_back(symbolize::describe(top.frames[i]));
    }
    if (top.frames.size() > kMaxFrames) {
      c.stack.push_back("… " + std::to_string(top.frames.size() - kMaxFrames) +
                        " more frames (causeway stacks)");
    } else if (symbolize::stack_ends_early(top.frames)) {
      c.stack.push_back(symbolize::stack_ends_early_note(call_graph));
    }
    c.stack_events = top.count;
  }
}

}  // namespace causeway::analyze
