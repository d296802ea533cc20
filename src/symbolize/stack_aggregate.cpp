#include "symbolize/stack_aggregate.h"

#include <sqlite3.h>

#include <algorithm>
#include <unordered_map>

namespace causeway::symbolize {

Result<std::vector<AggregatedStack>> merge_stack_groups(StackSymbolizer& symbolizer,
                                                        const std::vector<StackGroup>& groups) {
  std::vector<AggregatedStack> out;
  std::unordered_map<std::string, size_t> index;
  for (const StackGroup& g : groups) {
    if (!g.stack && !g.py_stack) continue;
    auto frames = symbolizer.merged(g.stack, g.py_stack);
    if (!frames.ok()) return frames.status();
    std::string key;
    for (const Frame& f : *frames) key += frame_key(f) + '\x1e';
    auto [it, inserted] = index.emplace(std::move(key), out.size());
    if (inserted) {
      out.emplace_back();
      out.back().frames = std::move(*frames);
    }
    AggregatedStack& a = out[it->second];
    a.count += g.count;
    a.total_ns += g.ns;
    if (g.stack &&
        std::find(a.stack_ids.begin(), a.stack_ids.end(), *g.stack) == a.stack_ids.end()) {
      a.stack_ids.push_back(*g.stack);
    }
    if (g.py_stack && std::find(a.py_stack_ids.begin(), a.py_stack_ids.end(), *g.py_stack) ==
                          a.py_stack_ids.end()) {
      a.py_stack_ids.push_back(*g.py_stack);
    }
  }
  // Stable: ties keep the order of their first group.
  std::stable_sort(out.begin(), out.end(), [](const AggregatedStack& a, const AggregatedStack& b) {
    if (a.total_ns != b.total_ns) return a.total_ns > b.total_ns;
    return a.count > b.count;
  });
  return out;
}

Result<StackAggregate> aggregate_stacks(sqlite3* db, StackSymbolizer& symbolizer,
                                        const StackQuery& q) {
  const bool cuda = q.source == StackSource::kCudaCalls;
  const std::string table = cuda ? "cuda_call" : "thread_state";
  const std::string py_col = symbolizer.python_stack_column(table);
  std::string sql = "SELECT e.stack_id, " + (py_col.empty() ? std::string("NULL") : "e." + py_col) +
                    ", count(*), coalesce(sum(e.dur), 0), min(e.id) FROM " + table + " e";
  if (q.pid || q.tid) {
    sql += " JOIN thread t ON t.utid = e.utid LEFT JOIN process p ON p.upid = t.upid";
  }
  sql += " WHERE 1";
  if (!cuda) sql += " AND e.state IN (2, 3)";
  if (q.function) sql += " AND e.function_id IN (SELECT id FROM string WHERE str = ?1)";
  if (q.pid) sql += " AND p.pid = " + std::to_string(*q.pid);
  if (q.tid) sql += " AND t.tid = " + std::to_string(*q.tid);
  if (q.since_ns) sql += " AND e.ts + e.dur > " + std::to_string(*q.since_ns);
  if (q.until_ns) sql += " AND e.ts < " + std::to_string(*q.until_ns);
  if (!q.event_ids.empty()) {
    sql += " AND e.id IN (";
    for (size_t i = 0; i < q.event_ids.size(); ++i) {
      sql.append(i > 0 ? "," : "").append(std::to_string(q.event_ids[i]));
    }
    sql += ")";
  }
  sql += " GROUP BY 1, 2 ORDER BY 5";

  sqlite3_stmt* stmt = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &stmt, nullptr) != SQLITE_OK) {
    std::string msg = std::string("Reading events failed: ") + sqlite3_errmsg(db) + ".";
    sqlite3_finalize(stmt);
    return Status::Error(msg);
  }
  if (q.function) {
    sqlite3_bind_text(stmt, 1, q.function->data(), static_cast<int>(q.function->size()),
                      SQLITE_TRANSIENT);
  }
  std::vector<StackGroup> groups;
  int rc;
  while ((rc = sqlite3_step(stmt)) == SQLITE_ROW) {
    StackGroup g;
    if (sqlite3_column_type(stmt, 0) != SQLITE_NULL) g.stack = sqlite3_column_int64(stmt, 0);
    if (sqlite3_column_type(stmt, 1) != SQLITE_NULL) g.py_stack = sqlite3_column_int64(stmt, 1);
    g.count = sqlite3_column_int64(stmt, 2);
    g.ns = sqlite3_column_int64(stmt, 3);
    groups.push_back(g);
  }
  std::string error = rc == SQLITE_DONE ? "" : sqlite3_errmsg(db);
  sqlite3_finalize(stmt);
  if (!error.empty()) return Status::Error("Reading events failed: " + error + ".");

  StackAggregate out;
  for (const StackGroup& g : groups) {
    out.events += g.count;
    out.events_ns += g.ns;
    if (g.stack || g.py_stack) out.with_stack += g.count;
  }
  // Groups arrive in order of their first event, so ties are broken by that.
  auto stacks = merge_stack_groups(symbolizer, groups);
  if (!stacks.ok()) return stacks.status();
  out.stacks = std::move(*stacks);
  return out;
}

}  // namespace causeway::symbolize
