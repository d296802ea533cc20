// Checks 4-7 of docs/verify.md: identities (one row per live tid / pid), references between
// tables, the causal chains' evidence, and waker contexts. Each is one scan of a table; the
// references are looked up by primary key (thread.utid, process.upid and event ids are rowids).
#include <sqlite3.h>

#include <map>
#include <optional>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "store/schema.h"
#include "store/sql_util.h"
#include "verify/checks.h"

namespace causeway::verify::detail {
namespace {

using store::sql::Stmt;

std::string lifetime(const std::optional<int64_t>& start, const std::optional<int64_t>& end) {
  return "[" + (start ? std::to_string(*start) : std::string("unknown start")) + ", " +
         (end ? std::to_string(*end) : std::string("still alive")) + "]";
}

// Rows of `table` (thread or process) grouped by `key` (tid or pid) in id order, i.e. the order
// the recorder created them: it makes a new row for a tid only once the previous one ended.
Status check_lifetimes(const Context& ctx, Tally& tally, const std::string& table,
                       const std::string& id_col, const std::string& key_col) {
  Stmt s(ctx.db, "SELECT " + id_col + ", " + key_col + ", start_ts, end_ts FROM " + table +
                     " ORDER BY " + key_col + ", " + id_col);
  if (!s.ok()) return store::sql::query_error(ctx.db, table);
  struct Row {
    int64_t id = 0, key = 0;
    std::optional<int64_t> start, end;
  };
  std::optional<Row> prev;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    const Row r{s.i64(0), s.i64(1), s.opt_i64(2), s.opt_i64(3)};
    auto name = [&](const Row& x) {
      return table + " " + id_col + " " + std::to_string(x.id) + " (" + key_col + " " +
             std::to_string(x.key) + ", lifetime " + lifetime(x.start, x.end) + ")";
    };
    // A later row of the same key with no start began after the previous one ended.
    std::optional<int64_t> effective_start = r.start;
    if (prev && prev->key == r.key && !r.start) effective_start = prev->end;
    if (effective_start && r.end && *r.end < *effective_start) {
      tally.add(table + " rows ending before they start", [&] {
        return name(r) + (r.start ? " ends before it starts."
                                  : " ends before the previous " + table + " row of its " +
                                        key_col + " ended (" + std::to_string(*prev->end) + ").");
      });
    }
    if (prev && prev->key == r.key) {
      const bool overlap = !prev->end || (r.start && *r.start < *prev->end);
      if (overlap) {
        const Row p = *prev;
        tally.add(table + " rows sharing a live " + key_col, [&] {
          return name(r) + " and " + name(p) + " are both alive at once: one " + key_col +
                 " may have one live " + table + " row (a reused " + key_col +
                 " gets a new row only after the old one ended).";
        });
      }
    }
    prev = r;
  }
  if (rc != SQLITE_DONE) return store::sql::query_error(ctx.db, table);
  return Status::Ok();
}

struct RefColumn {
  const char* column;
  bool optional;  // may be absent in older files
};

// Rows of `table` whose `columns` name a row missing from target (`target_key` its rowid).
Status check_refs(const Context& ctx, Tally& tally, const std::string& table,
                  const std::string& id_col, const std::vector<RefColumn>& columns,
                  const std::string& target, const std::string& target_key) {
  if (!store::sql::has_table(ctx.db, table)) return Status::Ok();
  std::vector<std::string> present;
  for (const RefColumn& c : columns) {
    if (has_column(ctx.db, table, c.column)) present.push_back(c.column);
  }
  if (present.empty()) return Status::Ok();
  // One scan: each column's test is a primary-key lookup; NULL (no reference) passes.
  std::string select = "SELECT " + id_col;
  std::string where;
  for (const std::string& c : present) {
    const std::string missing = "(" + c + " IS NOT NULL AND NOT EXISTS (SELECT 1 FROM " + target +
                                " WHERE " + target_key + " = " + table + "." + c + "))";
    select += ", " + c + ", " + missing;
    where += (where.empty() ? "" : " OR ") + missing;
  }
  Stmt s(ctx.db, select + " FROM " + table + " WHERE " + where + " ORDER BY " + id_col);
  if (!s.ok()) return store::sql::query_error(ctx.db, table);
  int rc;
  int64_t rows = 0;
  while ((rc = s.step()) == SQLITE_ROW) {
    if ((++rows & 0xffff) == 0 && ctx.stop_requested()) return Status::Error("Stopped.");
    for (size_t i = 0; i < present.size(); ++i) {
      const int col = 1 + 2 * static_cast<int>(i);
      if (s.i64(col + 1) == 0) continue;
      tally.add(table + "." + present[i] + " naming a missing " + target, [&] {
        // Event rows are named by table and id ("wakeup 12"), thread rows by utid.
        const std::string row = id_col == "id" ? table : table + " " + id_col;
        return row + " " + std::to_string(s.i64(0)) + " has " + present[i] + " " +
               std::to_string(s.i64(col)) + ", but " + target + " has no " + target_key + " " +
               std::to_string(s.i64(col)) + ".";
      });
    }
  }
  if (rc != SQLITE_DONE) return store::sql::query_error(ctx.db, table);
  return Status::Ok();
}

// Whether `table` is an event table of the schema whose rows have an `id` (so a chain may cite
// it). Checked against the schema before its name goes into SQL.
bool citable_table(const std::string& table) {
  for (const store::TableDef& t : store::schema().tables) {
    if (t.name != table) continue;
    for (const store::ColumnDef& c : t.columns) {
      if (c.name == "id") return true;
    }
  }
  return false;
}

}  // namespace

Status check_unique_live_ids(const Context& ctx, CheckResult& out) {
  Tally tally(out, ctx.opts->max_per_kind);
  if (Status st = check_lifetimes(ctx, tally, "thread", "utid", "tid"); !st.ok()) return st;
  return check_lifetimes(ctx, tally, "process", "upid", "pid");
}

Status check_references(const Context& ctx, CheckResult& out) {
  Tally tally(out, ctx.opts->max_per_kind);
  struct Spec {
    const char* table;
    std::vector<RefColumn> columns;
  };
  const std::vector<Spec> to_thread = {
      {"thread_state", {{"utid", false}, {"waker_utid", false}, {"preempter_utid", false}}},
      {"wakeup", {{"wakee_utid", false}, {"waker_utid", false}}},
      {"cpu_slice", {{"utid", true}}},
      {"cuda_call", {{"utid", false}}},
      {"syscall", {{"utid", false}}},
  };
  for (const Spec& spec : to_thread) {
    Status st = check_refs(ctx, tally, spec.table, "id", spec.columns, "thread", "utid");
    if (!st.ok()) return st;
  }
  return check_refs(ctx, tally, "thread", "utid", {{"upid", false}}, "process", "upid");
}

Status check_chain_evidence(const Context& ctx, CheckResult& out) {
  if (!store::sql::has_table(ctx.db, "causal_chain")) {
    out.skipped = "the trace has no causal_chain table (recorded before chains were stored).";
    return Status::Ok();
  }
  Tally tally(out, ctx.opts->max_per_kind);
  Stmt s(ctx.db, "SELECT id, json FROM causal_chain ORDER BY id");
  if (!s.ok()) return store::sql::query_error(ctx.db, "causal_chain");
  std::map<std::string, Stmt> lookups;  // table -> "row with this id exists"
  int64_t chains = 0;
  int rc;
  while ((rc = s.step()) == SQLITE_ROW) {
    ++chains;
    const int64_t chain = s.i64(0);
    const std::string prefix = "causal_chain " + std::to_string(chain);
    const nlohmann::json j = nlohmann::json::parse(s.text_view(1), nullptr, false);
    if (j.is_discarded() || !j.is_object()) {
      tally.add("chains whose json is not a JSON object",
                [&] { return prefix + " has a json column that is not a JSON object."; });
      continue;
    }
    const auto ev = j.find("evidence");
    if (ev == j.end()) continue;  // a chain without evidence cites nothing
    if (!ev->is_array()) {
      tally.add("chains whose evidence is not a list",
                [&] { return prefix + " has an evidence entry that is not a list."; });
      continue;
    }
    for (const nlohmann::json& e : *ev) {
      const auto table_it = e.is_object() ? e.find("table") : e.end();
      const auto id_it = e.is_object() ? e.find("id") : e.end();
      if (!e.is_object() || table_it == e.end() || !table_it->is_string() || id_it == e.end() ||
          !id_it->is_number_integer()) {
        tally.add("evidence entries without a table and an integer id", [&] {
          return prefix + " has an evidence entry without a table name and an integer id: " +
                 e.dump(-1, ' ', false, nlohmann::json::error_handler_t::replace) + ".";
        });
        continue;
      }
      const std::string table = table_it->get<std::string>();
      const int64_t id = id_it->get<int64_t>();
      if (!citable_table(table) || !store::sql::has_table(ctx.db, table)) {
        tally.add("evidence citing a table that does not exist", [&] {
          return prefix + " cites " + table + " " + std::to_string(id) +
                 ", but the trace has no event table named " + table + ".";
        });
        continue;
      }
      auto it = lookups.find(table);
      if (it == lookups.end()) {
        it =
            lookups.emplace(table, Stmt(ctx.db, "SELECT 1 FROM " + table + " WHERE id = ?1")).first;
      }
      Stmt& q = it->second;
      if (!q.ok()) return store::sql::query_error(ctx.db, table);
      q.reset();
      q.bind(1, id);
      const int qrc = q.step();
      if (qrc == SQLITE_DONE) {
        tally.add("evidence citing a row that does not exist", [&] {
          return prefix + " cites " + table + " " + std::to_string(id) + " as evidence, but " +
                 table + " has no row with id " + std::to_string(id) + ".";
        });
      } else if (qrc != SQLITE_ROW) {
        return store::sql::query_error(ctx.db, table);
      }
    }
  }
  if (rc != SQLITE_DONE) return store::sql::query_error(ctx.db, "causal_chain");
  if (chains == 0) out.notes.push_back("the trace holds no stored causal chains.");
  return Status::Ok();
}

Status check_waker_context(const Context& ctx, CheckResult& out) {
  Tally tally(out, ctx.opts->max_per_kind);
  static constexpr const char* kContext[] = {"task", "hardirq", "softirq", "timer", "nmi"};
  bool any = false;
  for (const std::string table : {"thread_state", "wakeup"}) {
    if (!store::sql::has_table(ctx.db, table) || !has_column(ctx.db, table, "waker_context")) {
      continue;
    }
    any = true;
    Stmt s(ctx.db, "SELECT id, waker_context, waker_utid FROM " + table +
                       " WHERE waker_context IS NOT NULL AND (waker_context NOT BETWEEN 0 AND 4 "
                       "OR (waker_context = 0) = (waker_utid IS NULL)) ORDER BY id");
    if (!s.ok()) return store::sql::query_error(ctx.db, table);
    int rc;
    int64_t rows = 0;
    while ((rc = s.step()) == SQLITE_ROW) {
      if ((++rows & 0xffff) == 0 && ctx.stop_requested()) return Status::Error("Stopped.");
      const std::string row = table + " " + std::to_string(s.i64(0));
      const int64_t wc = s.i64(1);
      if (wc < 0 || wc > 4) {
        tally.add("waker_context values outside 0..4", [&] {
          return row + " has waker_context " + std::to_string(wc) + ", which is not 0..4.";
        });
      } else if (wc == 0) {
        tally.add("task wakeups without a waker_utid", [&] {
          return row + " has waker_context 0 (task) but no waker_utid: a task wakeup names " +
                 "the task that woke it.";
        });
      } else {
        tally.add("non-task wakeups with a waker_utid", [&] {
          return row + " has waker_context " + std::to_string(wc) + " (" + kContext[wc] +
                 ") but waker_utid " + std::to_string(s.i64(2)) +
                 ": only a task wakeup (0) names a waker.";
        });
      }
    }
    if (rc != SQLITE_DONE) return store::sql::query_error(ctx.db, table);
  }
  if (!any) {
    out.skipped =
        "the trace has no waker_context column (recorded before causeway recorded how wakeups "
        "came).";
  }
  return Status::Ok();
}

}  // namespace causeway::verify::detail
