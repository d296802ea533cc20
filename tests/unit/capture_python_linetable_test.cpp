// Line tables of CPython code objects: hand-made vectors for each entry form of both
// formats, and ground truth from the machine's own interpreter (code.co_lines() of real
// compiled code) for the 3.11+ location table.
#include <gtest/gtest.h>

#include <unistd.h>
#include <sstream>
#include <string>
#include <vector>

#include "capture/python_linetable.h"
#include "support/test_support.h"

namespace causeway::capture {
namespace {

TEST(CapturePythonLineTable, Pep626TableOf310) {
  // (bytes, line delta) pairs from first line 10: +1 for 6 bytes, 0 for 2, no line for 4,
  // an empty range that still moves the line (+5), then +2 for 8 bytes.
  const std::vector<uint8_t> t = {6, 1, 2, 0, 4, 0x80, 0, 5, 8, 2};
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 0), 11);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 4), 11);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 6), 11);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 8), -1);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 12), 18);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 18), 18);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, 20), -1);  // past the end
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, t, 10, -2), 10);  // f_lasti = -1
  auto r = line_ranges(LineTableFormat::kPep626, t, 10);
  ASSERT_EQ(r.size(), 4u);  // the empty range is not a range
  EXPECT_EQ(r[3].start, 12);
  EXPECT_EQ(r[3].end, 20);
}

TEST(CapturePythonLineTable, LocationTableFormsOf311To313) {
  const std::vector<uint8_t> t = {
      0xE9, 0x02,                    // no-columns form, 2 units, line +1         -> [0,4) 6
      0x80, 0x05,                    // short form, 1 unit, same line              -> [4,6) 6
      0xDA, 0x01, 0x02,              // one-line form +1, 3 units                  -> [6,12) 7
      0xF8,                          // no location, 1 unit                        -> [12,14) none
      0xF0, 0x05, 0x00, 0x01, 0x02,  // long form, line -2                         -> [14,16) 5
      0xF0, 0x48, 0x03, 0x00, 0x01, 0x01,  // long form, line +100 (2-byte varint)  -> [16,18) 105
  };
  const int first = 5;
  const auto f = LineTableFormat::kLocations;
  EXPECT_EQ(line_for_offset(f, t, first, 0), 6);
  EXPECT_EQ(line_for_offset(f, t, first, 2), 6);
  EXPECT_EQ(line_for_offset(f, t, first, 4), 6);
  EXPECT_EQ(line_for_offset(f, t, first, 6), 7);
  EXPECT_EQ(line_for_offset(f, t, first, 10), 7);
  EXPECT_EQ(line_for_offset(f, t, first, 12), -1);
  EXPECT_EQ(line_for_offset(f, t, first, 14), 5);
  EXPECT_EQ(line_for_offset(f, t, first, 16), 105);
  EXPECT_EQ(line_for_offset(f, t, first, 18), -1);
  EXPECT_EQ(line_for_offset(f, t, first, -2), first);  // prev_instr before the first unit
  EXPECT_EQ(line_ranges(f, t, first).size(), 6u);
}

TEST(CapturePythonLineTable, CorruptTablesStopWithoutInventingLines) {
  // A continuation byte where an entry should start, and a truncated varint.
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations, std::vector<uint8_t>{0x05, 0x80}, 1, 0),
            -1);
  EXPECT_EQ(line_for_offset(LineTableFormat::kLocations, std::vector<uint8_t>{0xE8, 0x42}, 1, 0),
            -1);
  EXPECT_EQ(line_for_offset(LineTableFormat::kPep626, std::vector<uint8_t>{4}, 1, 0), -1);
}

// Ground truth from the interpreter: every code object of a sample module, its first line,
// its co_linetable and what co_lines() says for each range.
constexpr const char* kDumpScript = R"PY(
import sys
src = '''
import os

def outer(a, b):
    x = a + b
    if x > 3:
        y = [i * 2 for i in range(x)
             if i % 2]
    else:
        y = None
    try:
        z = 1 / (a - b)
    except ZeroDivisionError:
        z = 0
    return (x,
            y,
            z)

class K:
    def method(self):
        def inner():
            return 42
        return inner() + \\
            len("abc")

async def coro():
    await something()

''' + "\n" * 300 + '''
def far_away():
    return 1
'''
def walk(co):
    yield co
    for c in co.co_consts:
        if hasattr(c, "co_code"):
            yield from walk(c)
for co in walk(compile(src, "sample.py", "exec")):
    ranges = " ".join("%d:%d:%d" % (s, e, -1 if l is None else l) for s, e, l in co.co_lines())
    print(co.co_qualname, co.co_firstlineno, co.co_linetable.hex(), ranges)
print("version", sys.version_info[0], sys.version_info[1])
)PY";

TEST(CapturePythonLineTable, MatchesTheInstalledInterpretersCoLines) {
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 here";
  auto r = testing::run_command({"/usr/bin/python3", "-c", kDumpScript});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  std::istringstream lines(r.out);
  std::string line;
  int code_objects = 0, checked = 0;
  bool far_seen = false;
  while (std::getline(lines, line)) {
    std::istringstream words(line);
    std::string name, hex;
    int first = 0;
    words >> name;
    if (name == "version") {
      int major = 0, minor = 0;
      words >> major >> minor;
      if (major != 3 || minor < 11) GTEST_SKIP() << "python3 is not 3.11+";
      continue;
    }
    words >> first >> hex;
    std::vector<uint8_t> table;
    for (size_t i = 0; i + 1 < hex.size(); i += 2)
      table.push_back(static_cast<uint8_t>(std::stoi(hex.substr(i, 2), nullptr, 16)));
    code_objects++;
    std::string range;
    while (words >> range) {
      long start = 0, end = 0, want = 0;
      ASSERT_EQ(std::sscanf(range.c_str(), "%ld:%ld:%ld", &start, &end, &want), 3) << range;
      for (long off = start; off < end; off += 2) {
        EXPECT_EQ(line_for_offset(LineTableFormat::kLocations, table, first, off), want)
            << name << " offset " << off;
        checked++;
      }
      if (name == "far_away" && want > 300) far_seen = true;
    }
  }
  EXPECT_GE(code_objects, 6);
  EXPECT_GT(checked, 50);
  EXPECT_TRUE(far_seen) << "the far-away function's lines were not checked";
}

}  // namespace
}  // namespace causeway::capture
