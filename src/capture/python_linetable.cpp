#include "capture/python_linetable.h"

namespace causeway::capture {
namespace {

// Location-table varints: 6-bit groups, least significant first, bit 6 = more follow.
struct Reader {
  std::span<const uint8_t> t;
  size_t pos = 0;
  bool ok = true;
  uint32_t varint() {
    if (pos >= t.size()) {
      ok = false;
      return 0;
    }
    uint32_t b = t[pos++];
    uint32_t value = b & 63;
    uint32_t shift = 0;
    while (b & 64) {
      if (pos >= t.size() || shift > 24) {
        ok = false;
        return value;
      }
      b = t[pos++];
      shift += 6;
      value |= (b & 63) << shift;
    }
    return value;
  }
  int32_t svarint() {
    const uint32_t u = varint();
    return (u & 1) ? -static_cast<int32_t>(u >> 1) : static_cast<int32_t>(u >> 1);
  }
};

constexpr int kNoLocation = 15;  // PY_CODE_LOCATION_INFO_NONE
constexpr int kLongForm = 14;    // PY_CODE_LOCATION_INFO_LONG
constexpr int kNoColumns = 13;   // PY_CODE_LOCATION_INFO_NO_COLUMNS
constexpr int kOneLine0 = 10;    // PY_CODE_LOCATION_INFO_ONE_LINE0..2 = 10..12

// Visits each entry (start, end, line) of a location table; stops when `visit` returns false.
template <typename Visit>
void walk_locations(std::span<const uint8_t> table, int32_t first_line, Visit&& visit) {
  Reader r{table};
  int32_t line = first_line;
  int64_t start = 0;
  while (r.pos < table.size()) {
    const uint8_t head = table[r.pos];
    if ((head & 0x80) == 0) return;  // not an entry start: a corrupt table, stop honestly
    r.pos++;
    const int form = (head >> 3) & 15;
    const int64_t end = start + ((head & 7) + 1) * 2;
    int32_t entry_line = line;
    if (form == kNoLocation) {
      entry_line = -1;
    } else if (form == kLongForm || form == kNoColumns) {
      line += r.svarint();
      entry_line = line;
    } else if (form >= kOneLine0 && form <= kOneLine0 + 2) {
      line += form - kOneLine0;
      entry_line = line;
    }
    // Skip the rest of the entry (column data): up to the next byte with bit 7 set, as
    // CPython's own advance() does.
    while (r.pos < table.size() && (table[r.pos] & 0x80) == 0) r.pos++;
    if (!r.ok) return;
    if (!visit(start, end, entry_line)) return;
    start = end;
  }
}

// Visits each non-empty range of a 3.10 (PEP 626) table.
template <typename Visit>
void walk_pep626(std::span<const uint8_t> table, int32_t first_line, Visit&& visit) {
  int32_t line = first_line;
  int64_t start = 0;
  for (size_t i = 0; i + 1 < table.size(); i += 2) {
    const int64_t end = start + table[i];
    const auto delta = static_cast<int8_t>(table[i + 1]);
    int32_t entry_line = -1;
    if (delta != -128) {
      line += delta;
      entry_line = line;
    }
    if (end != start && !visit(start, end, entry_line)) return;
    start = end;
  }
}

template <typename Visit>
void walk(LineTableFormat format, std::span<const uint8_t> table, int32_t first_line,
          Visit&& visit) {
  if (format == LineTableFormat::kPep626)
    walk_pep626(table, first_line, visit);
  else
    walk_locations(table, first_line, visit);
}

}  // namespace

int32_t line_for_offset(LineTableFormat format, std::span<const uint8_t> table, int32_t first_line,
                        int64_t byte_offset) {
  if (byte_offset < 0) return first_line;
  int32_t found = -1;
  walk(format, table, first_line, [&](int64_t start, int64_t end, int32_t line) {
    if (byte_offset >= start && byte_offset < end) {
      found = line;
      return false;
    }
    return true;
  });
  return found;
}

std::vector<LineRange> line_ranges(LineTableFormat format, std::span<const uint8_t> table,
                                   int32_t first_line) {
  std::vector<LineRange> out;
  walk(format, table, first_line, [&](int64_t start, int64_t end, int32_t line) {
    out.push_back({start, end, line});
    return true;
  });
  return out;
}

}  // namespace causeway::capture
