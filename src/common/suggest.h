// "Did you mean …?": which of the names a trace has the user probably meant when the name
// given is not among them (a CUDA function spelled in the wrong case, cut short, or mistyped).
//
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>
#include <vector>

namespace causeway {

// Up to `max` of `names`, best first: a case-insensitive equal name alone; else names that
// start with, or contain, `wanted` (or that `wanted` starts with), ignoring case, shortest
// difference first; else the names nearest in edit distance, if within about a third of the
// length. Empty when nothing is close: better no hint than a wrong one.
std::vector<std::string> closest_names(std::string_view wanted,
                                       const std::vector<std::string>& names, size_t max = 3);

}  // namespace causeway
