// attach_stacks: a chain's evidence calls bring their symbolized stack into the chain, its
// JSON (and back) and the explain text; chains without stacks are unchanged.
#include <gtest/gtest.h>

#include "analyze/chains.h"
#include "fixtures/scenarios.h"
#include "fixtures/stack_fixture.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

TEST(AnalyzeChainStacksTest, EvidenceCallsBringTheirStack) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  scenarios::host_sync(db, false);
  give_calls_a_stack(db, 400);
  auto reader = store::Reader::open(db);
  ASSERT_TRUE(reader.ok());
  auto chains = analyze::compute_chains((*reader)->db(), {});
  ASSERT_TRUE(chains.ok()) << chains.error();
  int with_stack = 0;
  for (const auto& c : *chains) {
    bool cuda_evidence = false;
    for (const auto& e : c.evidence) cuda_evidence = cuda_evidence || e.table == "cuda_call";
    if (!cuda_evidence) continue;
    ++with_stack;
    EXPECT_EQ(c.stack, (std::vector<std::string>{kStackFrame0, kStackFrame1}));
    EXPECT_GT(c.stack_events, 0);
    auto back = analyze::chain_from_json(analyze::to_json(c));
    ASSERT_TRUE(back.ok());
    EXPECT_EQ(back->stack, c.stack);
    EXPECT_EQ(back->stack_events, c.stack_events);
  }
  EXPECT_GT(with_stack, 0);
  const std::string text = analyze::format_chains_text(*chains, 1'000'000'000);
  EXPECT_NE(text.find("Stack ("), std::string::npos) << text;
  EXPECT_NE(text.find(std::string("  ") + kStackFrame0 + "\n"), std::string::npos) << text;
}

TEST(AnalyzeChainStacksTest, NoStacksNoField) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  scenarios::host_sync(db, false);
  auto reader = store::Reader::open(db);
  ASSERT_TRUE(reader.ok());
  auto chains = analyze::compute_chains((*reader)->db(), {});
  ASSERT_TRUE(chains.ok());
  ASSERT_FALSE(chains->empty());
  for (const auto& c : *chains) {
    EXPECT_TRUE(c.stack.empty());
    EXPECT_FALSE(analyze::to_json(c).contains("stack"));
  }
}

}  // namespace
}  // namespace causeway::testing
