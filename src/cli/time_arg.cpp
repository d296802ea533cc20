#include "cli/time_arg.h"

#include <stdexcept>

namespace causeway::cli {

std::optional<int64_t> parse_time_arg(const std::string& text) {
  if (text.empty()) return std::nullopt;
  size_t used = 0;
  double v = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) {
    return std::nullopt;
  }
  const std::string unit = text.substr(used);
  double scale = 1;
  if (unit.empty()) {
    // Without a unit only a whole number of ns is accepted: "1.5" is more likely a mistake
    // (seconds?) than a fraction of a nanosecond.
    if (text.find_first_not_of("0123456789") != std::string::npos) return std::nullopt;
  } else if (unit == "ns") {
    scale = 1;
  } else if (unit == "us") {
    scale = 1e3;
  } else if (unit == "ms") {
    scale = 1e6;
  } else if (unit == "s") {
    scale = 1e9;
  } else {
    return std::nullopt;
  }
  if (!(v >= 0) || v * scale > 9e18) return std::nullopt;
  return static_cast<int64_t>(v * scale + 0.5);
}

}  // namespace causeway::cli
