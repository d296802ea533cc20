// Writes a fixture trace for the HTML report's browser test (report_browser.test.mjs):
//   make_report_fixture data_loader OUT.db   the data-loader pathology (tests/fixtures)
//   make_report_fixture hostile OUT.db       noisy neighbour whose process, thread and
//                                            command names are markup and "</script>"
//   make_report_fixture spinner OUT.db       a spinner holds the CPU after the thread's own
//                                            helper switched in first (cpu_slice rows)
// Exit status 1 when the trace could not be written.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fixtures/hostile_trace.h"
#include "fixtures/scenarios.h"

namespace {

using namespace causeway::testing;

void hostile(const std::string& path) {
  hostile_noisy_neighbour(
      path, {"</script><script>alert('process')</script>", "<img src=x onerror=alert('comm')>",
             "\xFF</ScRiPt><svg onload=alert('burner')>"});
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_report_fixture data_loader|hostile|spinner OUT.db\n");
    return 2;
  }
  const std::string kind = argv[1], out = argv[2];
  std::filesystem::remove(out);
  if (kind == "data_loader") {
    scenarios::data_loader(out, false);
  } else if (kind == "hostile") {
    hostile(out);
  } else if (kind == "spinner") {
    scenarios::spinner_behind_helper(out, true);
  } else {
    std::fprintf(stderr,
                 "make_report_fixture: unknown fixture '%s' (data_loader, hostile, spinner)\n",
                 kind.c_str());
    return 2;
  }
  // TraceBuilder reports write failures as gtest failures outside any test.
  if (::testing::UnitTest::GetInstance()->ad_hoc_test_result().Failed()) {
    std::fprintf(stderr, "make_report_fixture: writing %s failed\n", out.c_str());
    return 1;
  }
  return 0;
}
