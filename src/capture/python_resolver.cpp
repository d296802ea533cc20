#include "capture/python_resolver.h"

#include <cstdio>
#include <cstring>

#include "causeway/abi/events.h"

namespace causeway::capture {
namespace {

constexpr size_t kMaxStringChars = 4096;  // names and paths longer than this are cut
constexpr size_t kMaxLineTableBytes = 1 << 20;

std::string hex_addr(uint64_t a) {
  char buf[24];
  std::snprintf(buf, sizeof(buf), "0x%llx", static_cast<unsigned long long>(a));
  return buf;
}

void append_utf8(std::string& out, uint32_t cp) {
  if (cp < 0x80) {
    out += static_cast<char>(cp);
  } else if (cp < 0x800) {
    out += static_cast<char>(0xc0 | (cp >> 6));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else if (cp < 0x10000) {
    out += static_cast<char>(0xe0 | (cp >> 12));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  } else {
    out += static_cast<char>(0xf0 | (cp >> 18));
    out += static_cast<char>(0x80 | ((cp >> 12) & 0x3f));
    out += static_cast<char>(0x80 | ((cp >> 6) & 0x3f));
    out += static_cast<char>(0x80 | (cp & 0x3f));
  }
}

}  // namespace

void PythonResolver::add_process(int32_t pid, const PyLayout& layout) {
  Process& p = processes_[pid];
  p.layout = layout;
  p.codes.clear();
}

void PythonResolver::forget_process(int32_t pid) {
  processes_.erase(pid);
}

bool PythonResolver::read_u64(int32_t pid, uint64_t addr, uint64_t& out) {
  return addr != 0 && memory_.read(pid, addr, &out, sizeof(out));
}

// A str object: compact ASCII, or compact latin-1/UCS-2/UCS-4, as code objects hold them.
std::optional<std::string> PythonResolver::read_string(int32_t pid, const PyLayout& l,
                                                       uint64_t addr) {
  uint8_t head[128];
  if (addr == 0 || l.compact_size > sizeof(head) || !memory_.read(pid, addr, head, l.ascii_size))
    return std::nullopt;
  int64_t length = 0;
  uint32_t state = 0;
  std::memcpy(&length, head + l.unicode_length, sizeof(length));
  std::memcpy(&state, head + l.unicode_state, sizeof(state));
  // state bits (3.10-3.13): interned:2, kind:3, compact:1, ascii:1.
  const uint32_t kind = (state >> 2) & 7;
  const bool compact = (state >> 5) & 1, ascii = (state >> 6) & 1;
  if (!compact || length < 0 || (kind != 1 && kind != 2 && kind != 4)) return std::nullopt;
  const size_t n =
      static_cast<size_t>(length) > kMaxStringChars ? kMaxStringChars : static_cast<size_t>(length);
  const uint64_t data = addr + (ascii ? l.ascii_size : l.compact_size);
  std::vector<uint8_t> raw(n * kind);
  if (n > 0 && !memory_.read(pid, data, raw.data(), raw.size())) return std::nullopt;
  std::string out;
  out.reserve(n);
  for (size_t i = 0; i < n; i++) {
    uint32_t cp = 0;
    if (kind == 1) {
      cp = raw[i];
    } else if (kind == 2) {
      uint16_t v;
      std::memcpy(&v, &raw[i * 2], 2);
      cp = v;
    } else {
      std::memcpy(&cp, &raw[i * 4], 4);
    }
    if (ascii && cp >= 0x80) return std::nullopt;  // not what the header claims
    append_utf8(out, cp);
  }
  return out;
}

PythonResolver::Code PythonResolver::read_code(int32_t pid, const PyLayout& l, uint64_t addr) {
  code_reads_++;
  Code c;
  // The object's type must be `code`: ob_type -> tp_name.
  uint64_t type = 0, tp_name = 0;
  char name[8] = {};
  if (!read_u64(pid, addr + l.ob_type, type) || !read_u64(pid, type + l.type_tp_name, tp_name) ||
      !memory_.read(pid, tp_name, name, 5)) {
    c.error = "code object " + hex_addr(addr) + " unreadable (process exited?)";
    return c;
  }
  if (std::memcmp(name, "code", 5) != 0) {
    c.error = "object at " + hex_addr(addr) + " is not a code object";
    return c;
  }
  uint64_t filename = 0, fname = 0, linetable = 0;
  int32_t first_line = 0;
  const uint64_t name_field =
      l.code_qualname >= 0 ? static_cast<uint64_t>(l.code_qualname) : l.code_name;
  if (!read_u64(pid, addr + l.code_filename, filename) ||
      !read_u64(pid, addr + name_field, fname) ||
      !read_u64(pid, addr + l.code_linetable, linetable) ||
      !memory_.read(pid, addr + l.code_firstlineno, &first_line, sizeof(first_line))) {
    c.error = "code object " + hex_addr(addr) + " unreadable (process exited?)";
    return c;
  }
  auto file = read_string(pid, l, filename);
  auto func = read_string(pid, l, fname);
  int64_t table_len = 0;
  if (!file || !func || !memory_.read(pid, linetable + l.bytes_size, &table_len, 8) ||
      table_len < 0 || static_cast<uint64_t>(table_len) > kMaxLineTableBytes) {
    c.error = "code object " + hex_addr(addr) + " has unreadable names or line table";
    return c;
  }
  c.linetable.resize(static_cast<size_t>(table_len));
  if (table_len > 0 &&
      !memory_.read(pid, linetable + l.bytes_data, c.linetable.data(), c.linetable.size())) {
    c.error = "line table of code object " + hex_addr(addr) + " unreadable";
    return c;
  }
  if (l.code_adaptive >= 0) {
    // 3.11+: the code object is variable-sized; ob_size counts its code units.
    uint64_t units = 0;
    int32_t first_traceable = 0;
    if (!read_u64(pid, addr + 16, units) ||
        !memory_.read(pid, addr + static_cast<uint64_t>(l.code_firsttraceable), &first_traceable,
                      sizeof(first_traceable))) {
      c.error = "code object " + hex_addr(addr) + " unreadable (process exited?)";
      return c;
    }
    c.code_start = addr + static_cast<uint64_t>(l.code_adaptive);
    c.code_units = units;
    c.first_traceable = first_traceable;
  }
  c.ok = true;
  c.function = std::move(*func);
  c.file = std::move(*file);
  c.first_line = first_line;
  return c;
}

std::vector<store::PyFrameRow> PythonResolver::resolve(int32_t pid,
                                                       std::span<const cw_py_frame> frames,
                                                       uint32_t entry_mask) {
  std::vector<store::PyFrameRow> out;
  auto pit = processes_.find(pid);
  if (pit == processes_.end()) return out;
  Process& p = pit->second;
  const PyLayout& l = p.layout;
  for (size_t i = 0; i < frames.size(); i++) {
    const cw_py_frame& f = frames[i];
    auto it = p.codes.find(f.code);
    if (it == p.codes.end()) it = p.codes.emplace(f.code, read_code(pid, l, f.code)).first;
    const Code& c = it->second;
    store::PyFrameRow row;
    row.entry = i < 32 && ((entry_mask >> i) & 1);
    if (!c.ok) {
      row.function = "<unresolved: " + c.error + ">";
      out.push_back(std::move(row));
      continue;
    }
    int64_t byte_offset = 0;
    if (l.instr_is_lasti) {
      byte_offset = static_cast<int64_t>(static_cast<int32_t>(f.instr)) * 2;
    } else {
      const auto units = (static_cast<int64_t>(f.instr) - static_cast<int64_t>(c.code_start)) / 2;
      if (units >= static_cast<int64_t>(c.code_units) || units < -1) {
        row.file = c.file;
        row.function = "<unresolved: instruction pointer outside " + c.function + ">";
        out.push_back(std::move(row));
        continue;
      }
      // Pushed but not started (its prologue runs before _co_firsttraceable): CPython's
      // _PyFrame_IsIncomplete; tracebacks leave such frames out, and so do we.
      if (units < c.first_traceable) continue;
      byte_offset = units * 2;
    }
    row.function = c.function;
    row.file = c.file;
    row.line = line_for_offset(l.line_format, c.linetable, c.first_line, byte_offset);
    out.push_back(std::move(row));
  }
  return out;
}

}  // namespace causeway::capture
