#include "support/golden.h"

#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <sstream>

#include "support/test_support.h"

namespace causeway::testing {

std::string check_golden(const std::string& relative, const std::string& actual) {
  std::string path = source_path("tests/golden/" + relative);
  const char* update = std::getenv("CAUSEWAY_UPDATE_GOLDENS");
  if (update != nullptr && std::string(update) == "1") {
    std::filesystem::create_directories(std::filesystem::path(path).parent_path());
    std::ofstream(path, std::ios::binary) << actual;
    return "";
  }
  std::ifstream in(path, std::ios::binary);
  if (!in) return "missing golden file " + path + " (run scripts/update-goldens.sh)";
  std::stringstream buf;
  buf << in.rdbuf();
  std::string expected = buf.str();
  if (expected == actual) return "";
  std::istringstream e(expected);
  std::istringstream a(actual);
  std::string el;
  std::string al;
  for (int line = 1;; ++line) {
    bool more_e = static_cast<bool>(std::getline(e, el));
    bool more_a = static_cast<bool>(std::getline(a, al));
    if (!more_e && !more_a) break;
    if (!more_e || !more_a || el != al) {
      return path + " differs at line " + std::to_string(line) +
             ":\n  expected: " + (more_e ? el : "<end>") +
             "\n  actual:   " + (more_a ? al : "<end>") +
             "\n(if the change is deliberate, run scripts/update-goldens.sh)";
    }
  }
  return path + " differs (line endings?)";
}

}  // namespace causeway::testing
