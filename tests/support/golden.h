// Golden-file comparison. Set CAUSEWAY_UPDATE_GOLDENS=1 (scripts/update-goldens.sh does) to
// rewrite the expected files from the actual output instead of comparing.
#pragma once

#include <string>

namespace causeway::testing {

// Compares `actual` with tests/golden/<relative>. Returns "" when equal (or updated), else a
// message with the first differing line, suitable for a gtest failure.
std::string check_golden(const std::string& relative, const std::string& actual);

}  // namespace causeway::testing
