#include "mcp/chains.h"

#include <map>
#include <memory>
#include <tuple>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "store/reader.h"

namespace causeway::mcp {
namespace {

int severity_rank(const std::string& s) {
  if (s == "low") return 1;
  if (s == "medium") return 2;
  if (s == "high") return 3;
  if (s == "critical") return 4;
  return 0;
}

struct CachedChains {
  std::vector<analyze::Chain> chains;
  bool from_store = false;
};

using CacheKey =
    std::tuple<std::string, std::optional<int64_t>, std::optional<int64_t>, std::optional<int64_t>>;

Result<const CachedChains*> chains_for(const std::string& path, const ChainFilter& f) {
  static std::map<CacheKey, CachedChains> cache;
  CacheKey key{path, f.pid, f.since_ns, f.until_ns};
  if (auto it = cache.find(key); it != cache.end()) return &it->second;
  auto reader = store::Reader::open(path);
  if (!reader.ok()) return reader.status();
  analyze::ExplainOptions opts;
  if (f.pid) opts.pid = static_cast<int32_t>(*f.pid);
  opts.since_ns = f.since_ns;
  opts.until_ns = f.until_ns;
  CachedChains entry;
  auto chains = analyze::chains_for_reader((*reader)->db(), opts, &entry.from_store);
  if (!chains.ok()) return chains.status();
  entry.chains = std::move(*chains);
  return &cache.emplace(key, std::move(entry)).first->second;
}

}  // namespace

Result<Json> read_causal_chains(ToolContext& ctx, const ChainFilter& f) {
  auto cached = chains_for(ctx.db.path(), f);
  if (!cached.ok()) return cached.status();
  Json chains = Json::array();
  bool truncated = false;
  int min_rank = f.min_severity ? severity_rank(*f.min_severity) : 0;
  for (const auto& chain : (*cached)->chains) {
    if (f.category && chain.category != *f.category) continue;
    if (severity_rank(chain.severity) < min_rank) continue;
    if (static_cast<int64_t>(chains.size()) >= f.limit) {
      truncated = true;
      break;
    }
    chains.push_back(analyze::to_json(chain));
  }
  return Json{{"chains", std::move(chains)},
              {"truncated", truncated},
              {"from_store", (*cached)->from_store}};
}

std::string render_chain(const Json& c) {
  std::string line = "#" + fmt_value(c.value("id", Json())) + " [" +
                     c.value("severity", std::string("?")) + "] " +
                     c.value("category", std::string("?"));
  if (c.contains("impact_ns") && c["impact_ns"].is_number_integer()) {
    line += " impact " + fmt_dur(c["impact_ns"].get<int64_t>());
  }
  line += ": " + c.value("summary", std::string());
  if (c.contains("recommendation") && c["recommendation"].is_string()) {
    line += " Fix: " + c["recommendation"].get<std::string>();
  }
  // Evidence as table:id pairs, the first few; the structured result has them all.
  if (c.contains("evidence") && c["evidence"].is_array() && !c["evidence"].empty()) {
    line += " Evidence:";
    size_t shown = 0;
    for (const Json& e : c["evidence"]) {
      if (shown++ == 6) {
        line += " +" + std::to_string(c["evidence"].size() - 6) + " more";
        break;
      }
      if (e.is_object()) {
        line += " " + e.value("table", std::string("?")) + ":" + fmt_value(e.value("id", Json()));
      } else {
        line += " " + fmt_value(e);
      }
    }
  }
  return line;
}

}  // namespace causeway::mcp
