#include "store/trace_meta.h"

#include <cstdlib>
#include <nlohmann/json.hpp>

namespace causeway::store {

using json = nlohmann::json;

bool is_ring_drop_source(const std::string& source) {
  return source != "cuda_lost_entry" && source != "stack_copy";
}

TraceDrops parse_trace_drops(const std::optional<std::string>& drops_json,
                             const std::optional<std::string>& drops_total) {
  TraceDrops out;
  int64_t ring = 0;
  if (drops_json) {
    const json j = json::parse(*drops_json, nullptr, /*allow_exceptions=*/false);
    if (j.is_object()) {
      for (const auto& [source, n] : j.items()) {
        if (!n.is_number_integer()) continue;
        const auto count = n.get<int64_t>();
        out.by_source[source] = count;
        if (is_ring_drop_source(source)) ring += count;
      }
    }
  }
  out.ring_total = ring;
  if (drops_total) {
    char* end = nullptr;
    const long long v = std::strtoll(drops_total->c_str(), &end, 10);
    if (end != drops_total->c_str() && *end == '\0' && v >= 0) out.ring_total = v;
  }
  return out;
}

std::string cuda_libraries_summary(const std::optional<std::string>& cuda_libraries_json) {
  if (!cuda_libraries_json || cuda_libraries_json->empty()) return "";
  const json libs = json::parse(*cuda_libraries_json, nullptr, /*allow_exceptions=*/false);
  if (!libs.is_array()) return "";
  if (libs.empty()) return "none found (kernel events only)";
  auto field = [](const json& o, const char* k) {
    auto it = o.find(k);
    return it != o.end() && it->is_string() ? it->get<std::string>() : std::string();
  };
  std::string out;
  for (const json& lib : libs) {
    if (!lib.is_object()) continue;
    const std::string path = field(lib, "path");
    const std::string file = path.substr(path.find_last_of('/') + 1);
    const std::string version = field(lib, "version");
    std::string one = field(lib, "kind");
    if (!file.empty()) one += (one.empty() ? "" : " ") + file;
    const bool named_by_version = !version.empty() && file.size() > version.size() &&
                                  file.ends_with(version) &&
                                  file[file.size() - version.size() - 1] == '.';
    if (!version.empty() && !named_by_version) {
      one += (one.empty() ? "" : " ") + ("(" + version + ")");
    }
    if (one.empty()) continue;
    out += (out.empty() ? "" : ", ") + one;
  }
  return out;
}

}  // namespace causeway::store
