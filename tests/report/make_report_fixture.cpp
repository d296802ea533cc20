// Writes a fixture trace for the HTML report's browser test (report_browser.test.mjs):
//   make_report_fixture data_loader OUT.db   the data-loader pathology (tests/fixtures)
//   make_report_fixture hostile OUT.db       noisy neighbour whose process, thread and
//                                            command names are markup and "</script>"
// Exit status 1 when the trace could not be written.
#include <gtest/gtest.h>

#include <cstdio>
#include <filesystem>
#include <string>

#include "fixtures/scenarios.h"

namespace {

using namespace causeway::testing;

void hostile(const std::string& path) {
  TraceBuilder b(path);
  b.process(100, "</script><script>alert('process')</script>");
  b.thread(100, 109, "sim-gpu", 7);
  Timeline& t = b.thread(100, 100, "<img src=x onerror=alert('comm')>", 0);
  b.process(200, "\xFF</ScRiPt><svg onload=alert('burner')>", false);
  b.thread(200, 200, "\xFF</ScRiPt><svg onload=alert('burner')>", 0, false);
  t.at(1 * kMs);
  for (int step = 0; step < 200; ++step) {
    if (step < 40) {
      t.run(1 * kMs);
    } else {
      t.run(300 * kUs);
      t.runnable(1200 * kUs, 200, 200);
      t.run(700 * kUs);
    }
    for (int i = 0; i < 3; ++i) t.quick("cudaLaunchKernel", 8 * kUs);
    t.call("cudaStreamSynchronize", [&] {
      t.run(5 * kUs);
      t.sleep(2 * kMs, "futex", 100, 109);
      t.run(5 * kUs);
    });
  }
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: make_report_fixture data_loader|hostile OUT.db\n");
    return 2;
  }
  const std::string kind = argv[1], out = argv[2];
  std::filesystem::remove(out);
  if (kind == "data_loader") {
    scenarios::data_loader(out, false);
  } else if (kind == "hostile") {
    hostile(out);
  } else {
    std::fprintf(stderr, "make_report_fixture: unknown fixture '%s' (data_loader, hostile)\n",
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
