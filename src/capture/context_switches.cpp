#include "capture/context_switches.h"

#include <charconv>
#include <fstream>
#include <sstream>
#include <string>

namespace causeway::capture {

std::optional<int64_t> parse_context_switches(std::string_view proc_stat) {
  size_t pos = 0;
  while (pos < proc_stat.size()) {
    size_t end = proc_stat.find('\n', pos);
    if (end == std::string_view::npos) end = proc_stat.size();
    std::string_view line = proc_stat.substr(pos, end - pos);
    pos = end + 1;
    if (!line.starts_with("ctxt ")) continue;
    line.remove_prefix(5);
    while (!line.empty() && line.front() == ' ') line.remove_prefix(1);
    int64_t value = 0;
    auto [ptr, ec] = std::from_chars(line.data(), line.data() + line.size(), value);
    if (ec != std::errc() || ptr == line.data() || value < 0) return std::nullopt;
    return value;
  }
  return std::nullopt;
}

std::optional<int64_t> read_context_switches() {
  std::ifstream in("/proc/stat");
  if (!in) return std::nullopt;
  std::ostringstream text;
  text << in.rdbuf();
  return parse_context_switches(text.str());
}

std::optional<int64_t> unreported_switches(std::optional<int64_t> machine_start,
                                           std::optional<int64_t> machine_end, int64_t seen) {
  if (!machine_start || !machine_end || *machine_end < *machine_start) return std::nullopt;
  const int64_t missing = (*machine_end - *machine_start) - seen;
  return missing > 0 ? missing : 0;
}

}  // namespace causeway::capture
