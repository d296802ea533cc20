// Line numbers of CPython code objects: decoding the line tables CPython stores in
// co_linetable, in the two formats of the supported versions.
//
//   kPep626 (3.10): pairs (bytecode bytes covered, signed line delta); delta -128 = no line.
//   kLocations (3.11, 3.12, 3.13): the location table of Objects/locations.md, one entry per
//     run of code units: a header byte (bit 7 set, bits 3-6 the form, bits 0-2 the length
//     - 1 in code units) followed by varint-encoded line/column data.
//
// Both are decoded exactly as CPython's PyCode_Addr2Line does, so the line reported for an
// instruction is the line a traceback would show. Pure functions; thread-safe.
#pragma once

#include <cstdint>
#include <span>
#include <vector>

namespace causeway::capture {

enum class LineTableFormat : uint8_t { kPep626, kLocations };

// The line of the instruction at byte offset `byte_offset` into the code object's bytecode
// (instruction index * 2). A negative offset means "before the first instruction", which
// CPython reports as the first line. Returns -1 when the table says the instruction has no
// line (compiler-generated code) or the offset lies beyond the table.
int32_t line_for_offset(LineTableFormat format, std::span<const uint8_t> table, int32_t first_line,
                        int64_t byte_offset);

// Every address range of the table with its line, in order (what code.co_lines() yields,
// with -1 for "no line"), for tests and diagnostics.
struct LineRange {
  int64_t start = 0;  // bytes
  int64_t end = 0;    // bytes, exclusive
  int32_t line = -1;
};
std::vector<LineRange> line_ranges(LineTableFormat format, std::span<const uint8_t> table,
                                   int32_t first_line);

}  // namespace causeway::capture
