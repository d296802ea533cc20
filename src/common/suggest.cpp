#include "common/suggest.h"

#include <algorithm>
#include <cctype>
#include <cstdlib>
#include <utility>

namespace causeway {
namespace {

std::string lower(std::string_view s) {
  std::string out(s);
  for (char& c : out) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return out;
}

size_t edit_distance(const std::string& a, const std::string& b) {
  std::vector<size_t> row(b.size() + 1);
  for (size_t j = 0; j <= b.size(); ++j) row[j] = j;
  for (size_t i = 1; i <= a.size(); ++i) {
    size_t diag = row[0];
    row[0] = i;
    for (size_t j = 1; j <= b.size(); ++j) {
      const size_t up = row[j];
      row[j] = std::min({row[j] + 1, row[j - 1] + 1, diag + (a[i - 1] == b[j - 1] ? 0 : 1)});
      diag = up;
    }
  }
  return row[b.size()];
}

}  // namespace

std::vector<std::string> closest_names(std::string_view wanted,
                                       const std::vector<std::string>& names, size_t max) {
  const std::string w = lower(wanted);
  if (w.empty() || max == 0) return {};
  std::vector<std::pair<size_t, std::string>> contained;  // (length difference, name)
  std::vector<std::pair<size_t, std::string>> near;       // (edit distance, name)
  // Beyond about a third of the letters changed, a "suggestion" is just another name.
  const size_t max_distance = std::max<size_t>(2, w.size() / 3);
  for (const std::string& name : names) {
    const std::string n = lower(name);
    if (n == w) return {name};
    const size_t diff = n.size() > w.size() ? n.size() - w.size() : w.size() - n.size();
    // A fragment of two letters is contained in half the names: no signal.
    if (w.size() >= 3 && (n.find(w) != std::string::npos || w.rfind(n, 0) == 0)) {
      contained.emplace_back(diff, name);
    } else if (diff <= max_distance) {
      const size_t d = edit_distance(w, n);
      if (d <= max_distance) near.emplace_back(d, name);
    }
  }
  auto& pick = contained.empty() ? near : contained;
  std::sort(pick.begin(), pick.end());
  // A typo is one name: a second one that is several edits further away is no rival.
  if (&pick == &near && !near.empty()) {
    const size_t best = near.front().first;
    near.erase(
        std::find_if(near.begin(), near.end(), [best](const auto& p) { return p.first > best; }),
        near.end());
  }
  std::vector<std::string> out;
  for (size_t i = 0; i < pick.size() && out.size() < max; ++i) out.push_back(pick[i].second);
  return out;
}

}  // namespace causeway
