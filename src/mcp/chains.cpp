#include "mcp/chains.h"

#include <set>

namespace causeway::mcp {

const char* const kChainsNotComputed =
    "Causal chains have not been computed for this trace (it has no causal_chain table). "
    "Investigate directly instead: get_trace_stats for the slow CUDA functions, run_sql on "
    "cuda_calls ORDER BY dur DESC for the slowest calls, then get_timeline on one of them.";

bool chains_computed(ToolContext& ctx) {
  return ctx.db.has_table("causal_chain");
}

namespace {
// Severity as a rank whether the engine stores it as text or as a number.
const char* kSeverityRank =
    "(CASE WHEN typeof(severity) IN ('integer','real') THEN severity ELSE "
    "CASE lower(severity) WHEN 'low' THEN 1 WHEN 'medium' THEN 2 WHEN 'high' THEN 3 "
    "WHEN 'critical' THEN 4 ELSE 0 END END)";

int severity_rank(const std::string& s) {
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  if (s == "critical") return 4;
  return 0;
}
}  // namespace

Result<Json> read_causal_chains(ToolContext& ctx, const ChainFilter& f) {
  if (!chains_computed(ctx)) return Status::Error(kChainsNotComputed);
  auto info = ctx.query("PRAGMA table_info(causal_chain)", {}, 500);
  if (!info.ok()) return info.status();
  std::set<std::string> cols;
  for (const Json& r : info->rows) cols.insert(r.at(1).get<std::string>());  // cid, name, …
  std::string where = "1";
  std::vector<Json> params;
  auto param = [&](Json v) {
    params.push_back(std::move(v));
    return "?" + std::to_string(params.size());
  };
  if (f.pid) {
    if (cols.count("pid")) {
      where += " AND pid = " + param(*f.pid);
    } else if (cols.count("upid")) {
      where += " AND upid IN (SELECT upid FROM process WHERE pid = " + param(*f.pid) + ")";
    }
  }
  if (cols.count("ts")) {
    if (f.since_ns) where += " AND ts >= " + param(*f.since_ns);
    if (f.until_ns) where += " AND ts <= " + param(*f.until_ns);
  }
  if (f.category && cols.count("category")) where += " AND category = " + param(*f.category);
  if (f.min_severity && cols.count("severity")) {
    where += std::string(" AND ") + kSeverityRank + " >= " + param(severity_rank(*f.min_severity));
  }
  // src/analyze stores chains ranked (id 1 = largest impact); other layouts fall back to a
  // rank column or to severity.
  std::string order = cols.count("rank")       ? "rank ASC"
                      : cols.count("id")       ? "id ASC"
                      : cols.count("severity") ? std::string(kSeverityRank) + " DESC"
                                               : "rowid";
  auto q = ctx.query("SELECT * FROM causal_chain WHERE " + where + " ORDER BY " + order, params,
                     f.limit);
  if (!q.ok()) return q.status();
  Json chains = rows_as_objects(*q);
  for (Json& c : chains) {
    // The full chain (decomposition, evidence, recommendation) is stored as JSON text; hand it
    // over as structure rather than as an escaped string.
    if (c.contains("json") && c["json"].is_string()) {
      Json detail = Json::parse(c["json"].get<std::string>(), nullptr, false);
      if (!detail.is_discarded()) {
        c["detail"] = std::move(detail);
        c.erase("json");
      }
    }
  }
  return Json{{"chains", std::move(chains)}, {"truncated", q->truncated}};
}

std::string render_chain(const Json& c) {
  std::string line;
  for (const char* k : {"id", "rank"}) {
    if (c.contains(k) && !c[k].is_null()) {
      line += "#" + fmt_value(c[k]) + " ";
      break;
    }
  }
  if (c.contains("impact_ns") && c["impact_ns"].is_number_integer()) {
    line += "impact " + fmt_dur(c["impact_ns"].get<int64_t>()) + " ";
  }
  if (c.contains("severity") && !c["severity"].is_null())
    line += "[" + fmt_value(c["severity"]) + "] ";
  for (const char* k : {"headline", "explanation", "summary"}) {
    if (c.contains(k) && c[k].is_string()) {
      line += c[k].get<std::string>();
      break;
    }
  }
  for (const char* k : {"recommendation", "fix"}) {
    if (c.contains(k) && c[k].is_string()) line += " Fix: " + c[k].get<std::string>();
  }
  for (const char* k : {"evidence", "evidence_ids"}) {
    if (c.contains(k) && !c[k].is_null()) line += " Evidence: " + fmt_value(c[k]);
  }
  return line;
}

}  // namespace causeway::mcp
