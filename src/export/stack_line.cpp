#include "export/stack_line.h"

#include <algorithm>
#include <array>

namespace causeway::timeline {
namespace {

bool starts_with(std::string_view s, std::string_view prefix) {
  return s.substr(0, prefix.size()) == prefix;
}

// The interpreter executable: "python", "python3", "python3.11" (pyenv, venv and distro
// builds link libpython statically into it, so its C call machinery lives here).
bool is_python_executable(std::string_view base) {
  if (!starts_with(base, "python")) return false;
  base.remove_prefix(6);
  return std::all_of(base.begin(), base.end(),
                     [](char c) { return (c >= '0' && c <= '9') || c == '.'; });
}

}  // namespace

bool is_plumbing_frame(const symbolize::Frame& f) {
  using symbolize::FrameKind;
  if (f.kind == FrameKind::kPython || f.kind == FrameKind::kPythonAppended) return false;
  // No module: an address outside every mapping, which tells the reader nothing.
  if (f.module.empty()) return true;
  const std::string base = symbolize::tail_path(f.module, 1);
  // File-name prefixes, with the ".so"/"-" after short names so that e.g. libcuda or
  // libmylib never match libc or libm.
  static constexpr std::array<std::string_view, 16> kPrefixes = {
      "libc.so",  "libc-",   "ld-linux", "ld.so",    "libpthread", "libstdc++",
      "libgcc_s", "libm.so", "libm-",    "libdl.so", "libdl-",     "librt.so",
      "librt-",   "libffi",  "_ctypes",  "libpython"};
  for (std::string_view p : kPrefixes) {
    if (starts_with(base, p)) return true;
  }
  // Old glibc names the loader ld-2.31.so.
  if (starts_with(base, "ld-") && base.find(".so") != std::string::npos) return true;
  return is_python_executable(base);
}

std::string stack_line(const std::vector<symbolize::Frame>& frames, size_t max_frames) {
  const size_t n = frames.size();
  if (n == 0) return {};
  max_frames = std::max<size_t>(max_frames, 1);
  std::vector<bool> keep(n, n <= max_frames);
  if (n > max_frames) {
    // The innermost frame says what was called (or where the thread blocked): always kept.
    keep[0] = true;
    size_t left = max_frames - 1;
    for (const bool plumbing : {false, true}) {
      for (size_t i = 1; i < n && left > 0; ++i) {
        if (!keep[i] && is_plumbing_frame(frames[i]) == plumbing) {
          keep[i] = true;
          --left;
        }
      }
    }
  }
  std::string out;
  size_t skipped = 0;
  for (size_t i = 0; i < n; ++i) {
    if (!keep[i]) {
      ++skipped;
      continue;
    }
    if (skipped > 0) {
      out += " <- ... " + std::to_string(skipped) + " more";
      skipped = 0;
    }
    if (i > 0) out += " <- ";
    // One frame exactly as symbolize::compact_stack writes it, so the export's frames read
    // like every other one-line stack causeway prints.
    out += symbolize::compact_stack({frames[i]}, 1);
  }
  if (skipped > 0) out += " <- ... " + std::to_string(skipped) + " more";
  return out;
}

}  // namespace causeway::timeline
