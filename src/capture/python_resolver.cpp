#include "capture/python_resolver.h"

#include <algorithm>
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

bool PythonResolver::read_identity(int32_t pid, const PyLayout& l, uint64_t addr, Identity& out) {
  const uint64_t name_field =
      l.code_qualname >= 0 ? static_cast<uint64_t>(l.code_qualname) : l.code_name;
  const bool sized = l.code_adaptive >= 0;  // 3.11+: ob_size (offset 16) counts code units
  // The fields lie within the first couple of hundred bytes of every supported layout.
  uint8_t head[512];
  const uint64_t stamp_end = CW_PY_STAMP_OFFSET + CW_PY_STAMP_WORDS * 8;
  const uint64_t end = std::max({l.ob_type + 8, l.code_filename + 8, name_field + 8,
                                 l.code_linetable + 8, l.code_firstlineno + 4, stamp_end});
  if (addr == 0 || end > sizeof(head) || !memory_.read(pid, addr, head, end)) return false;
  auto u64 = [&](uint64_t off) {
    uint64_t v;
    std::memcpy(&v, head + off, sizeof(v));
    return v;
  };
  out.type = u64(l.ob_type);
  out.filename = u64(l.code_filename);
  out.name = u64(name_field);
  out.linetable = u64(l.code_linetable);
  out.units = sized ? u64(16) : 0;
  std::memcpy(&out.first_line, head + l.code_firstlineno, sizeof(out.first_line));
  __u64 words[CW_PY_STAMP_WORDS];
  std::memcpy(words, head + CW_PY_STAMP_OFFSET, sizeof(words));
  out.stamp = cw_py_code_stamp(words);
  return true;
}

PythonResolver::Code PythonResolver::read_code(int32_t pid, const PyLayout& l, uint64_t addr) {
  code_reads_++;
  Code c;
  // The object's type must be `code`: ob_type -> tp_name.
  Identity& id = c.identity;
  uint64_t tp_name = 0;
  char name[8] = {};
  if (!read_identity(pid, l, addr, id) || !read_u64(pid, id.type + l.type_tp_name, tp_name) ||
      !memory_.read(pid, tp_name, name, 5)) {
    c.error = "code object " + hex_addr(addr) + " unreadable (process exited?)";
    return c;
  }
  if (std::memcmp(name, "code", 5) != 0) {
    c.error = "object at " + hex_addr(addr) + " is not a code object";
    return c;
  }
  const uint64_t filename = id.filename, fname = id.name, linetable = id.linetable;
  const int32_t first_line = id.first_line;
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
    int32_t first_traceable = 0;
    if (!memory_.read(pid, addr + static_cast<uint64_t>(l.code_firsttraceable), &first_traceable,
                      sizeof(first_traceable))) {
      c.error = "code object " + hex_addr(addr) + " unreadable (process exited?)";
      return c;
    }
    c.code_start = addr + static_cast<uint64_t>(l.code_adaptive);
    c.code_units = id.units;
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
  checked_.clear();
  for (size_t i = 0; i < frames.size(); i++) {
    const cw_py_frame& f = frames[i];
    const CodeKey key{f.code, f.stamp};
    auto it = p.codes.find(key);
    if (it == p.codes.end()) {
      Code c = read_code(pid, l, f.code);
      if (f.stamp != 0 && c.ok && c.identity.stamp != f.stamp) {
        // The object there now is not the one the frame ran: it was freed after the event.
        const Identity now = c.identity;
        c = Code{};
        c.identity = now;
        c.error = "code object " + hex_addr(f.code) +
                  " was freed and its memory reused before it could be read";
      }
      it = p.codes.emplace(key, std::move(c)).first;
      checked_.push_back(f.code);
    } else if (f.stamp == 0 &&
               std::find(checked_.begin(), checked_.end(), f.code) == checked_.end()) {
      // Still the object that was cached? An unreadable header (the process is going away)
      // keeps the cached entry: nothing can have replaced it since it was last seen.
      checked_.push_back(f.code);
      Identity now;
      if (read_identity(pid, l, f.code, now) && !(now == it->second.identity)) {
        it->second = read_code(pid, l, f.code);
        code_replaced_++;
      }
    }
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
