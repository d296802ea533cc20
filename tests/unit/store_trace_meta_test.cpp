// store/trace_meta: the meta JSON values `causeway trace` writes, read one way for stats,
// the report and MCP. Values as the recorder writes them, and values it never writes (a
// hand-edited or foreign trace), which must give empty results, never an exception.
#include "store/trace_meta.h"

#include <gtest/gtest.h>

namespace causeway::store {
namespace {

TEST(StoreTraceMeta, DropsAsTheRecorderWritesThem) {
  const TraceDrops d = parse_trace_drops(
      R"({"blockio":0,"cuda":3,"cuda_lost_entry":2,"proc":0,"sched":5,"stack_copy":7,"syscall":1})",
      "9");
  EXPECT_EQ(d.by_source.size(), 7u);
  EXPECT_EQ(d.by_source.at("cuda"), 3);
  EXPECT_EQ(d.by_source.at("stack_copy"), 7);
  EXPECT_EQ(d.ring_total, 9);  // drops_total as written, not recomputed
}

TEST(StoreTraceMeta, RingTotalWithoutDropsTotalLeavesOutTheGaps) {
  const TraceDrops d =
      parse_trace_drops(R"({"cuda":3,"cuda_lost_entry":2,"sched":5,"stack_copy":7})", std::nullopt);
  EXPECT_EQ(d.ring_total, 8);
  EXPECT_TRUE(is_ring_drop_source("blockio"));
  EXPECT_FALSE(is_ring_drop_source("cuda_lost_entry"));
  EXPECT_FALSE(is_ring_drop_source("stack_copy"));
}

TEST(StoreTraceMeta, AbsentOrMalformedDropsAreEmpty) {
  EXPECT_TRUE(parse_trace_drops(std::nullopt, std::nullopt).by_source.empty());
  EXPECT_EQ(parse_trace_drops(std::nullopt, std::nullopt).ring_total, 0);
  for (const char* bad : {"", "{", "[1,2]", "42", R"({"cuda":"x","sched":1.5})"}) {
    const TraceDrops d = parse_trace_drops(bad, "not a number");
    EXPECT_TRUE(d.by_source.empty()) << bad;
    EXPECT_EQ(d.ring_total, 0) << bad;
  }
  EXPECT_EQ(parse_trace_drops(std::nullopt, "-4").ring_total, 0);
  EXPECT_EQ(parse_trace_drops(std::nullopt, "12").ring_total, 12);
}

TEST(StoreTraceMeta, CudaLibrariesSummary) {
  EXPECT_EQ(
      cuda_libraries_summary(
          R"([{"kind":"runtime","path":"/opt/cuda/lib64/libcudart.so.13.0.96","version":"13.0.96"},)"
          R"({"kind":"driver","path":"/usr/lib/libcuda.so.1","version":"580.65.06"}])"),
      "runtime libcudart.so.13.0.96, driver libcuda.so.1 (580.65.06)");
  EXPECT_EQ(cuda_libraries_summary("[]"), "none found (kernel events only)");
  EXPECT_EQ(cuda_libraries_summary(std::nullopt), "");
  EXPECT_EQ(cuda_libraries_summary("{oops"), "");
  EXPECT_EQ(cuda_libraries_summary(R"({"kind":"runtime"})"), "");
  EXPECT_EQ(cuda_libraries_summary(R"([1, {"kind": 3}, {"path": "/x/libcuda.so"}])"), "libcuda.so");
}

}  // namespace
}  // namespace causeway::store
