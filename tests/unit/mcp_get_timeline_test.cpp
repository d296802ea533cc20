// get_timeline's runnable intervals say who held the CPU meanwhile, from cpu_slice: the task
// that held it longest with its time, idle and unrecorded time, not the task that switched in
// when the thread left the CPU (kept only as switched_in_first). A trace without cpu_slice
// rows says the holder was not recorded. For a CPU, untraced holders and idle time are listed.
#include <gtest/gtest.h>

#include <string>

#include "fixtures/scenarios.h"
#include "mcp/mcp_test_server.h"

namespace causeway::mcp {
namespace {

using causeway::testing::kMs;
using causeway::testing::kUs;
using causeway::testing::TestServer;

// The runnable items of train's timeline over the first steps of spinner_behind_helper.
std::vector<Json> runnable_items(TestServer& s, int64_t window_ns = 30 * kMs) {
  auto r = s.call_tool("get_timeline", {{"tid", 1100},
                                        {"ts", 1 * kMs + window_ns / 2},
                                        {"window_ns", window_ns},
                                        {"kinds", {"state"}},
                                        {"limit", 2000}});
  EXPECT_FALSE(r["result"].value("isError", true)) << r.dump();
  std::vector<Json> out;
  for (const Json& it : r["result"]["structuredContent"]["items"]) {
    if (it["what"] == "runnable") out.push_back(it);
  }
  return out;
}

TEST(mcp_get_timeline, RunnableNamesWhoHeldTheCpu) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::spinner_behind_helper(path, true);
    return Status::Ok();
  });
  s.initialize();
  auto items = runnable_items(s);
  ASSERT_FALSE(items.empty());
  int preempted = 0, after_wake = 0;
  for (const Json& it : items) {
    const Json& a = it["attrs"];
    ASSERT_TRUE(a["cpu_held_by"].is_array()) << it.dump();
    EXPECT_EQ(a["cpu_held_by"][0]["thread"], "spinner");
    EXPECT_EQ(a["cpu_held_by"][0]["tid"], 1200);
    EXPECT_EQ(a["cpu_held_by"][0]["pid"], 1200);
    EXPECT_EQ(a["cpu_held_by"][0]["traced"], false);
    EXPECT_EQ(a["cpu_idle_ns"], 0);
    EXPECT_EQ(a["cpu_unknown_ns"], 0);
    EXPECT_FALSE(a.contains("preempter")) << it.dump();
    if (a.contains("switched_in_first")) {
      EXPECT_EQ(a["switched_in_first"], "helper");
      EXPECT_EQ(a["switched_in_first_tid"], 1101);
      EXPECT_EQ(a["cpu_held_by"][0]["ns"], 2800 * kUs);
      ASSERT_EQ(a["cpu_held_by"].size(), 2u);
      EXPECT_EQ(a["cpu_held_by"][1]["thread"], "helper");
      EXPECT_EQ(a["cpu_held_by"][1]["ns"], 200 * kUs);
      ++preempted;
    } else {
      EXPECT_EQ(a["cpu_held_by"][0]["ns"], 1500 * kUs);
      ++after_wake;
    }
  }
  EXPECT_GT(preempted, 0);
  EXPECT_GT(after_wake, 0);
  auto r = s.call_tool("get_timeline", {{"tid", 1100}, {"ts", 3 * kMs}, {"window_ns", 2 * kMs}});
  const std::string text = r["result"]["content"][0]["text"];
  EXPECT_NE(text.find("runnable cpu=0 cpu_held_by=[\"spinner\" tid=1200 pid=1200 2.8ms, "
                      "\"helper\" tid=1101 pid=1100 200"),
            std::string::npos)
      << text;
}

TEST(mcp_get_timeline, RunnableWithoutCpuRecordSaysSo) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::scenarios::spinner_behind_helper(path, false);
    return Status::Ok();
  });
  s.initialize();
  auto items = runnable_items(s);
  ASSERT_FALSE(items.empty());
  for (const Json& it : items) {
    EXPECT_EQ(it["attrs"]["cpu_held_by"], "not recorded") << it.dump();
  }
}

TEST(mcp_get_timeline, RunnableStatesIdleUnknownAndOthers) {
  TestServer s({}, [](const std::string& path) {
    causeway::testing::TraceBuilder b(path);
    b.process(10, "app");
    auto& t = b.thread(10, 10, "app", 1);
    for (int i = 0; i < 5; ++i) {
      b.process(20 + i, "task" + std::to_string(i), false);
      b.thread(20 + i, 20 + i, "task" + std::to_string(i), 1, false);
    }
    t.run(1 * kMs);
    const int64_t st = t.now();
    t.runnable(10 * kMs, 24, 24);
    int64_t at = st;
    for (int i = 0; i < 5; ++i) {  // 1.0, 0.9, 0.8, 0.7, 0.6 ms
      b.slice(1, at, (10 - i) * 100 * kUs, 20 + i, 20 + i);
      at += (10 - i) * 100 * kUs;
    }
    b.slice(1, at, 3 * kMs, 0, 0);  // idle; the last 3 ms are not recorded
    t.run(1 * kMs);
    return Status::Ok();
  });
  s.initialize();
  auto r = s.call_tool("get_timeline", {{"tid", 10}, {"ts", 6 * kMs}, {"window_ns", 10 * kMs}});
  const Json* item = nullptr;
  for (const Json& it : r["result"]["structuredContent"]["items"]) {
    if (it["what"] == "runnable") item = &it;
  }
  ASSERT_NE(item, nullptr) << r.dump();
  const Json& a = (*item)["attrs"];
  ASSERT_EQ(a["cpu_held_by"].size(), 3u);
  EXPECT_EQ(a["cpu_held_by"][0]["thread"], "task0");
  EXPECT_EQ(a["cpu_held_by"][0]["ns"], 1 * kMs);
  EXPECT_EQ(a["cpu_held_by"][2]["thread"], "task2");
  EXPECT_EQ(a["cpu_held_by_others"]["count"], 2);
  EXPECT_EQ(a["cpu_held_by_others"]["ns"], 1300 * kUs);
  EXPECT_EQ(a["cpu_idle_ns"], 3 * kMs);
  EXPECT_EQ(a["cpu_unknown_ns"], 3 * kMs);
  EXPECT_EQ(a["switched_in_first"], "task4");
  // The CPU's own view lists the untraced holders and the idle time.
  auto c = s.call_tool("get_timeline", {{"cpu", 1}, {"ts", 6 * kMs}, {"window_ns", 10 * kMs}});
  int held = 0, idle = 0;
  for (const Json& it : c["result"]["structuredContent"]["items"]) {
    if (it["kind"] != "cpu") continue;
    if (it["what"] == "held") ++held;
    if (it["what"] == "idle") ++idle;
  }
  EXPECT_EQ(held, 5);
  EXPECT_EQ(idle, 1);
}

}  // namespace
}  // namespace causeway::mcp
