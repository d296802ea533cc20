#include "symbolize/frame.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

namespace causeway::symbolize {
namespace {

constexpr std::array<std::pair<FrameKind, std::string_view>, 9> kNames = {{
    {FrameKind::kNative, "native"},
    {FrameKind::kSymbolOnly, "symbol"},
    {FrameKind::kUnresolved, "unresolved"},
    {FrameKind::kBinaryChanged, "binary_changed"},
    {FrameKind::kBinaryUnverified, "binary_unverified"},
    {FrameKind::kBinaryMissing, "binary_missing"},
    {FrameKind::kNoMapping, "no_mapping"},
    {FrameKind::kPython, "python"},
    {FrameKind::kPythonAppended, "python_appended"},
}};

std::string hex(uint64_t v) {
  char buf[24];
  std::snprintf(buf, sizeof buf, "%#llx", static_cast<unsigned long long>(v));
  return buf;
}

std::string module_offset(const Frame& f) {
  return tail_path(f.module, 1) + "+" + hex(f.module_offset);
}

bool is_python(const Frame& f) {
  return f.kind == FrameKind::kPython || f.kind == FrameKind::kPythonAppended;
}

}  // namespace

std::string_view kind_name(FrameKind kind) {
  for (const auto& [k, name] : kNames) {
    if (k == kind) return name;
  }
  return "unresolved";
}

FrameKind kind_from_name(std::string_view name) {
  for (const auto& [k, n] : kNames) {
    if (n == name) return k;
  }
  return FrameKind::kUnresolved;
}

std::string tail_path(std::string_view path, int components) {
  size_t pos = path.size();
  for (int i = 0; i < components; ++i) {
    const size_t slash = path.rfind('/', pos == 0 ? 0 : pos - 1);
    if (slash == std::string_view::npos || pos == 0) return std::string(path);
    pos = slash;
  }
  return std::string(path.substr(pos + 1));
}

std::string describe(const Frame& f) {
  std::string out;
  switch (f.kind) {
    case FrameKind::kNative:
    case FrameKind::kPython:
    case FrameKind::kPythonAppended:
      out = f.function.empty() ? "??" : f.function;
      if (!f.file.empty()) {
        out += " at " + tail_path(f.file, 2);
        if (f.line > 0) out.append(":").append(std::to_string(f.line));
      }
      if (f.inlined) out += " (inlined)";
      if (f.kind == FrameKind::kPythonAppended) out += " [python; native frames below unknown]";
      return out;
    case FrameKind::kSymbolOnly:
      return f.function + " (" + tail_path(f.module, 1) + ", no line info)";
    case FrameKind::kUnresolved:
      return module_offset(f);
    case FrameKind::kBinaryChanged:
      return module_offset(f) + " [binary changed since the trace]";
    case FrameKind::kBinaryUnverified:
      return module_offset(f) + " [binary has no build-id; cannot check it is the one traced]";
    case FrameKind::kBinaryMissing:
      return module_offset(f) + " [binary no longer on disk]";
    case FrameKind::kNoMapping:
      return hex(f.pc) + " [no mapping]";
  }
  return hex(f.pc);
}

std::string folded_name(const Frame& f) {
  std::string out;
  if (is_python(f)) {
    out = (f.function.empty() ? "??" : f.function) + " (" + tail_path(f.file, 1) + ":" +
          std::to_string(f.line) + ")";
  } else if (!f.function.empty()) {
    out = f.function;
  } else if (f.kind == FrameKind::kNoMapping) {
    out = "[unknown " + hex(f.pc) + "]";
  } else {
    out = module_offset(f);
  }
  for (char& c : out) {
    if (c == ';' || c == '\n' || c == '\r') c = ':';
  }
  return out;
}

std::string compact_stack(const std::vector<Frame>& frames, size_t max_frames) {
  std::string out;
  for (size_t i = 0; i < frames.size(); ++i) {
    if (i == max_frames) {
      out += " <- ... " + std::to_string(frames.size() - i) + " more";
      break;
    }
    const Frame& f = frames[i];
    if (i > 0) out += " <- ";
    if (is_python(f) || f.function.empty() || f.line <= 0) {
      out += folded_name(f);
    } else {
      out += f.function + " (" + tail_path(f.file, 1) + ":" + std::to_string(f.line) + ")";
    }
  }
  return out;
}

std::string frame_key(const Frame& f) {
  std::string key(kind_name(f.kind));
  key += '\x1f' + f.function + '\x1f' + f.file + '\x1f' + std::to_string(f.line) + '\x1f' +
         (f.inlined ? "i" : "");
  // Unresolved frames are only equal at the same place in the same module.
  if (f.kind == FrameKind::kSymbolOnly) {
    key += '\x1f' + f.module;
  } else if (f.kind != FrameKind::kNative && f.kind != FrameKind::kPython &&
             f.kind != FrameKind::kPythonAppended) {
    key += '\x1f' + f.module + '\x1f' + std::to_string(f.module_offset);
  }
  if (f.kind == FrameKind::kNoMapping) key += '\x1f' + std::to_string(f.pc);
  return key;
}

bool stack_ends_early(const std::vector<Frame>& frames) {
  if (frames.empty()) return false;
  const Frame& outer = frames.back();
  if ((outer.kind != FrameKind::kNative && outer.kind != FrameKind::kSymbolOnly) ||
      outer.function.empty())
    return false;
  // Where a complete walk ends on x86-64 glibc: the program entry and the thread start
  // routines (with their internal aliases). `main` counts too: a walk that got there has all
  // of the program's own frames, which is what the note is for.
  static constexpr std::array<std::string_view, 12> kBases = {"main",
                                                              "_start",
                                                              "__libc_start_main",
                                                              "__libc_start_main_impl",
                                                              "__libc_start_call_main",
                                                              "start_thread",
                                                              "clone",
                                                              "clone3",
                                                              "__clone",
                                                              "__clone3",
                                                              "__clone_internal",
                                                              "thread_start"};
  return std::find(kBases.begin(), kBases.end(), std::string_view(outer.function)) == kBases.end();
}

std::string stack_ends_early_note(std::string_view call_graph) {
  const std::string head = "… the walk stopped here, short of the thread's start (";
  if (call_graph.substr(0, 5) != "dwarf") {
    return head +
           "code without frame pointers? `causeway trace --call-graph dwarf` unwinds through "
           "it; see docs/stacks.md)";
  }
  // Advising dwarf to a trace that already used it would send the user round in circles:
  // a DWARF unwind ends early when the stack copy ran out or the code has no CFI.
  constexpr int64_t kMaxBytes = 16384;  // the largest copy BPF makes (docs/stacks.md)
  int64_t bytes = 8192;                 // "dwarf" alone: the default copy
  if (call_graph.size() > 6 && call_graph[5] == ',') {
    bytes = std::strtoll(std::string(call_graph.substr(6)).c_str(), nullptr, 10);
  }
  if (bytes > 0 && bytes < kMaxBytes) {
    return head + "traced with --call-graph dwarf," + std::to_string(bytes) +
           ": the stack copy probably ended here — trace with `--call-graph dwarf," +
           std::to_string(kMaxBytes) + "` — or this code has no CFI; see docs/stacks.md)";
  }
  return head + "traced with --call-graph " + std::string(call_graph) +
         ", the largest stack copy: the stack is deeper than the copy, or this code has no "
         "CFI; see docs/stacks.md)";
}

}  // namespace causeway::symbolize
