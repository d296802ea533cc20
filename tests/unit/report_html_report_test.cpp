// The HTML report as a document: sections present, data embedded and parseable, strings from
// the traced system escaped (a thread named "</script>" cannot inject markup or script), no
// network references, bounded size.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>
#include <optional>
#include <regex>

#include "fixtures/hostile_trace.h"
#include "fixtures/scenarios.h"
#include "report/html_report.h"
#include "store/reader.h"
#include "support/test_support.h"

namespace causeway::report {
namespace {

using causeway::testing::kMs;
using causeway::testing::kUs;
using causeway::testing::TempDir;
using causeway::testing::TraceBuilder;

std::string render(const std::string& path, ReportOptions opts = {}) {
  auto reader = store::Reader::open(path);
  EXPECT_TRUE(reader.ok()) << reader.error();
  if (!reader.ok()) return "";
  opts.source = path;
  opts.generator = "causeway test";
  auto model = build_report((*reader)->db(), opts);
  EXPECT_TRUE(model.ok()) << model.error();
  return model.ok() ? render_html(*model) : "";
}

size_t count(const std::string& s, const std::string& what) {
  size_t n = 0;
  for (size_t p = s.find(what); p != std::string::npos; p = s.find(what, p + 1)) ++n;
  return n;
}

nlohmann::json embedded(const std::string& html) {
  const std::string open = "<script type=\"application/json\" id=\"causeway-data\">";
  const size_t a = html.find(open);
  if (a == std::string::npos) return nullptr;
  const size_t b = html.find("</script>", a);
  return nlohmann::json::parse(html.substr(a + open.size(), b - a - open.size()));
}

TEST(ReportHtmlReportTest, HasEverySectionAndTheData) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::noisy_neighbour(path, false);
  const std::string html = render(path);
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(html.rfind("<!DOCTYPE html>", 0), 0u);
  for (const char* id : {"id=\"summary\"", "id=\"findings\"", "id=\"timeline\"", "id=\"latency\"",
                         "id=\"chain-list\"", "id=\"chain-1\"", "id=\"histograms\"", "id=\"tl\""}) {
    EXPECT_NE(html.find(id), std::string::npos) << id;
  }
  EXPECT_NE(html.find("cpu_contention"), std::string::npos);
  EXPECT_NE(html.find("Top finding"), std::string::npos);
  EXPECT_NE(html.find("cudaStreamSynchronize"), std::string::npos);
  // Exactly two script elements (data and code), nothing loaded from anywhere.
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_NE(html.find("default-src 'none'"), std::string::npos);
  EXPECT_FALSE(std::regex_search(html, std::regex(R"((src|href)\s*=\s*["']?(https?:|//))")));
  EXPECT_EQ(count(html, "https://"), 0u);
  auto data = embedded(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["format"], "causeway-report/1");
  ASSERT_FALSE(data["chains"].empty());
  EXPECT_EQ(data["chains"][0]["category"], "cpu_contention");
  ASSERT_FALSE(data["views"].empty());
  EXPECT_FALSE(data["views"][0]["events"].empty());
  ASSERT_FALSE(data["histograms"].empty());
  EXPECT_FALSE(data["histograms"][0]["buckets"].empty());
  // Every string index in the events points into the string table.
  const size_t strings = data["strings"].size();
  for (const auto& e : data["views"][0]["events"]) {
    EXPECT_LT(e[6].get<size_t>(), strings);
    EXPECT_LT(e[7].get<size_t>(), strings);
  }
}

TEST(ReportHtmlReportTest, HostileNamesStayText) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  const std::string evil_process = "</script><script>alert(1)</script>";
  const std::string evil_comm = "<img src=x onerror=alert(2)>";
  const std::string evil_burner = "\xFF\xFE</ScRiPt><marquee>";
  testing::hostile_noisy_neighbour(path, {evil_process, evil_comm, evil_burner});
  const std::string html = render(path);
  ASSERT_FALSE(html.empty());
  EXPECT_EQ(count(html, "<script"), 2u);
  EXPECT_EQ(count(html, "</script>"), 2u);
  EXPECT_EQ(html.find("alert(1)</script>"), std::string::npos);
  const size_t img = html.find("<img");
  EXPECT_EQ(img, std::string::npos) << html.substr(img == std::string::npos ? 0 : img - 200, 300);
  EXPECT_EQ(html.find("<marquee"), std::string::npos);
  EXPECT_EQ(html.find("</ScRiPt>"), std::string::npos);
  EXPECT_NE(html.find("&lt;img src=x onerror=alert(2)&gt;"), std::string::npos);
  EXPECT_NE(html.find("&lt;/script&gt;&lt;script&gt;alert(1)"), std::string::npos);
  // The embedded data still carries the names exactly (invalid bytes replaced).
  auto data = embedded(html);
  ASSERT_TRUE(data.is_object());
  bool comm = false, burner = false;
  for (const auto& v : data["views"]) {
    for (const auto& lane : v["lanes"]) {
      comm |= lane["thread"] == evil_comm;
      burner |= lane["thread"] == "\xEF\xBF\xBD\xEF\xBF\xBD</ScRiPt><marquee>";
    }
  }
  EXPECT_TRUE(comm);
  EXPECT_TRUE(burner);
}

TEST(ReportHtmlReportTest, EmptyTraceStillRenders) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  {
    TraceBuilder b(path);
    b.process(1, "idle");
  }
  const std::string html = render(path);
  EXPECT_NE(html.find("No causal chains"), std::string::npos);
  EXPECT_NE(html.find("No CUDA calls were recorded"), std::string::npos);
  auto data = embedded(html);
  ASSERT_TRUE(data.is_object());
  EXPECT_TRUE(data["views"].empty());
}

// The summary's fact row for the CUDA libraries, as a string ("" when the row is absent).
std::string cuda_row(const std::string& html) {
  const std::string open = "<tr><th>CUDA libraries</th><td>";
  const size_t a = html.find(open);
  if (a == std::string::npos) return "";
  const size_t b = html.find("</td>", a);
  return html.substr(a + open.size(), b - a - open.size());
}

// A trace whose meta cuda_libraries holds `value` (not set when nullopt).
std::string render_with_libraries(const TempDir& dir, const std::string& name,
                                  std::optional<std::string> value) {
  const std::string path = dir.file(name);
  {
    TraceBuilder b(path);
    b.process(1, "idle");
    if (value) {
      EXPECT_TRUE(b.writer().set_meta("cuda_libraries", *value).ok());
    }
  }
  return render(path);
}

// What the recorder writes (Session::write_meta): one object per probed library.
TEST(ReportHtmlReportTest, CudaLibrariesRowShowsWhatTheRecorderProbed) {
  TempDir dir;
  const std::string html = render_with_libraries(
      dir, "t.db",
      R"([{"build_id":"c29005d0","kind":"runtime","path":"/usr/local/cuda-13.0/lib64/)"
      R"(libcudart.so.13","probed_symbols":61,"version":"13.0.96"},)"
      R"({"build_id":"e6999f81","kind":"driver","path":"/usr/lib/x86_64-linux-gnu/)"
      R"(libcuda.so.1","probed_symbols":69,"version":"580.65.06"}])");
  EXPECT_EQ(cuda_row(html), "runtime libcudart.so.13 (13.0.96), driver libcuda.so.1 (580.65.06)")
      << html.substr(0, 4000);

  // A version that is only the file name's own suffix is not repeated; file names are text.
  const std::string named = render_with_libraries(
      dir, "named.db",
      R"([{"kind":"runtime","path":"/opt/sim/libcudart.so.13","version":"13"},)"
      R"({"kind":"driver","path":"/x/<b>libcuda.so","version":"1"}])");
  EXPECT_EQ(cuda_row(named), "runtime libcudart.so.13, driver &lt;b&gt;libcuda.so (1)");

  // The recorder found no CUDA library: say so rather than leave the row out.
  EXPECT_EQ(cuda_row(render_with_libraries(dir, "none.db", "[]")),
            "none found (kernel events only)");
}

TEST(ReportHtmlReportTest, CudaLibrariesRowIsLeftOutWhenMetaIsAbsentOrMalformed) {
  TempDir dir;
  int n = 0;
  for (std::optional<std::string> value : std::vector<std::optional<std::string>>{
           std::nullopt, "", "not json", "[{\"kind\": ", "{\"kind\":\"runtime\"}", "42",
           R"([1, "x", null, {"kind": 7, "path": []}])"}) {
    const std::string html = render_with_libraries(dir, std::to_string(n++) + ".db", value);
    ASSERT_FALSE(html.empty()) << value.value_or("(absent)");
    EXPECT_EQ(html.find("CUDA libraries"), std::string::npos) << value.value_or("(absent)");
    EXPECT_NE(html.find("id=\"summary\""), std::string::npos);
  }
}

TEST(ReportHtmlReportTest, FiltersAndCapsApply) {
  TempDir dir;
  const std::string path = dir.file("t.db");
  testing::scenarios::lock_wait(path, false);
  ReportOptions other;
  other.pid = 4242;
  const std::string none = render(path, other);
  EXPECT_NE(none.find("No causal chains"), std::string::npos);
  EXPECT_NE(none.find("process 4242"), std::string::npos);

  ReportOptions capped;
  capped.limits.max_chains = 1;
  capped.limits.max_histograms = 1;
  capped.limits.timeline.max_views = 1;
  const std::string small = render(path, capped);
  auto data = embedded(small);
  ASSERT_TRUE(data.is_object());
  EXPECT_EQ(data["chains"].size(), 1u);
  EXPECT_EQ(data["histograms"].size(), 1u);
  EXPECT_EQ(data["views"].size(), 1u);
  EXPECT_NE(small.find("Histograms are drawn for the 1 functions"), std::string::npos);
}

TEST(ReportHtmlReportTest, SizeStaysBoundedOnALargeTrace) {
  TempDir dir;
  const std::string path = dir.file("big.db");
  {
    // 40 threads x 3000 steps of tiny states and calls: ~600k rows.
    TraceBuilder b(path);
    b.process(100, "big");
    b.thread(100, 109, "sim-gpu", 7);
    for (int k = 0; k < 40; ++k) {
      auto& t = b.thread(100, 1000 + k, "worker-" + std::to_string(k), k % 4);
      t.at(1 * kMs);
      for (int step = 0; step < 3000; ++step) {
        t.run(20 * kUs);
        if (step % 7 == 3) t.runnable(900 * kUs, 100, 1000 + (k + 1) % 40);
        t.quick("cudaLaunchKernel", 3 * kUs);
        t.call("cudaStreamSynchronize", [&] { t.sleep(40 * kUs, "futex", 100, 109); });
      }
    }
  }
  const std::string html = render(path);
  ASSERT_FALSE(html.empty());
  EXPECT_LT(html.size(), 3u << 20) << html.size();
  RecordProperty("report_bytes", std::to_string(html.size()));
  auto data = embedded(html);
  ASSERT_TRUE(data.is_object());
  for (const auto& v : data["views"]) {
    EXPECT_LE(v["events"].size(), TimelineLimits{}.max_events);
    EXPECT_LE(v["lanes"].size(), TimelineLimits{}.max_lanes);
  }
}

}  // namespace
}  // namespace causeway::report
