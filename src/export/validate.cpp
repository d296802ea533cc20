#include "export/validate.h"

#include <algorithm>
#include <cmath>
#include <cstdint>
#include <map>
#include <utility>

namespace causeway::timeline {
namespace {

int64_t to_ns(const nlohmann::json& us) {
  return std::llround(us.get<double>() * 1000.0);
}

}  // namespace

std::vector<std::string> validate_trace_events(const nlohmann::json& doc, size_t max_problems) {
  std::vector<std::string> problems;
  auto problem = [&](std::string s) {
    if (problems.size() < max_problems) problems.push_back(std::move(s));
  };
  if (!doc.is_object() || !doc.contains("traceEvents") || !doc["traceEvents"].is_array()) {
    problem("the document is not an object with a traceEvents array");
    return problems;
  }
  // (pid, tid) -> slices (ts, dur) ; flow id -> (s ts, count), (f ts, count).
  std::map<std::pair<int64_t, int64_t>, std::vector<std::pair<int64_t, int64_t>>> tracks;
  std::map<int64_t, std::pair<int64_t, int>> starts, finishes;
  size_t index = 0;
  for (const auto& e : doc["traceEvents"]) {
    const std::string where = "event " + std::to_string(index++);
    if (!e.is_object() || !e.contains("ph") || !e["ph"].is_string()) {
      problem(where + " has no ph");
      continue;
    }
    const std::string ph = e["ph"];
    if (!e.contains("pid") || !e["pid"].is_number_integer() || !e.contains("tid") ||
        !e["tid"].is_number_integer()) {
      problem(where + " (" + ph + ") lacks an integer pid or tid");
      continue;
    }
    const int64_t pid = e["pid"], tid = e["tid"];
    if (ph == "M") {
      if (!e.contains("args") ||
          !(e["args"].contains("name") || e["args"].contains("sort_index"))) {
        problem(where + " is metadata without args.name or args.sort_index");
      }
      continue;
    }
    if (!e.contains("ts") || !e["ts"].is_number()) {
      problem(where + " (" + ph + ") has no numeric ts");
      continue;
    }
    const int64_t ts = to_ns(e["ts"]);
    if (ph == "X") {
      if (!e.contains("name") || !e["name"].is_string() || e["name"].get<std::string>().empty()) {
        problem(where + " is a slice without a name");
      }
      if (!e.contains("dur") || !e["dur"].is_number()) {
        problem(where + " is a slice without dur");
        continue;
      }
      const int64_t dur = to_ns(e["dur"]);
      if (ts < 0 || dur < 0) problem(where + " has a negative ts or dur");
      tracks[{pid, tid}].push_back({ts, dur});
    } else if (ph == "s" || ph == "f") {
      if (!e.contains("id") || !e["id"].is_number_integer()) {
        problem(where + " is a flow event without an integer id");
        continue;
      }
      auto& slot = (ph == "s" ? starts : finishes)[e["id"].get<int64_t>()];
      slot.first = ts;
      ++slot.second;
    } else {
      problem(where + " has an unexpected ph '" + ph + "'");
    }
  }
  for (auto& [track, slices] : tracks) {
    std::sort(slices.begin(), slices.end(), [](const auto& a, const auto& b) {
      return a.first != b.first ? a.first < b.first : a.second > b.second;
    });
    std::vector<int64_t> open;  // end times of the enclosing slices
    for (const auto& [ts, dur] : slices) {
      while (!open.empty() && open.back() <= ts) open.pop_back();
      if (!open.empty() && ts + dur > open.back()) {
        problem("track pid " + std::to_string(track.first) + " tid " +
                std::to_string(track.second) + ": the slice at " + std::to_string(ts) +
                " ns partially overlaps an enclosing slice ending at " +
                std::to_string(open.back()) + " ns");
        break;
      }
      open.push_back(ts + dur);
    }
  }
  for (const auto& [id, s] : starts) {
    auto it = finishes.find(id);
    if (s.second != 1) problem("flow " + std::to_string(id) + " has several starts");
    if (it == finishes.end()) {
      problem("flow " + std::to_string(id) + " has no finish");
    } else if (it->second.second != 1) {
      problem("flow " + std::to_string(id) + " has several finishes");
    } else if (it->second.first < s.first) {
      problem("flow " + std::to_string(id) + " finishes before it starts");
    }
  }
  for (const auto& [id, f] : finishes) {
    if (!starts.count(id)) problem("flow " + std::to_string(id) + " has a finish but no start");
  }
  return problems;
}

}  // namespace causeway::timeline
