// The Perfetto export puts each CUDA call's symbolized stack on its slice as arg `stack`.
#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>

#include "export/perfetto_json.h"
#include "fixtures/scenarios.h"
#include "fixtures/stack_fixture.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

TEST(ExportPerfettoStackTest, CudaSlicesCarryTheSymbolizedStack) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  scenarios::host_sync(db, false);
  give_calls_a_stack(db, 400);
  auto reader = store::Reader::open(db);
  ASSERT_TRUE(reader.ok());
  std::FILE* f = std::tmpfile();
  auto sum = timeline::write_perfetto_json((*reader)->db(), {}, f);
  ASSERT_TRUE(sum.ok()) << sum.error();
  std::rewind(f);
  std::string text;
  char buf[65536];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) text.append(buf, n);
  std::fclose(f);
  auto doc = nlohmann::json::parse(text);
  int64_t cuda = 0;
  for (const auto& e : doc["traceEvents"]) {
    if (e.value("cat", "") != "cuda") continue;
    ++cuda;
    EXPECT_EQ(e["args"].value("stack", ""), "app+0x1000 <- app+0x1fff") << e.dump();
  }
  EXPECT_EQ(cuda, sum->cuda_calls);
  EXPECT_GT(cuda, 0);
}

}  // namespace
}  // namespace causeway::testing
