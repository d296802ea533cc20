// The newline-delimited stdio transport: framing, the line-length cap, EOF.
#include <unistd.h>

#include <thread>

#include <gtest/gtest.h>

#include "mcp/stdio_transport.h"

namespace causeway::mcp {
namespace {

// Feeds `data` into a pipe from another thread (so large inputs cannot deadlock) and reads
// every line back with a cap of `max` bytes.
std::vector<std::pair<LineReader::Status, std::string>> read_all(const std::string& data,
                                                                 size_t max) {
  int fds[2];
  EXPECT_EQ(pipe(fds), 0);
  std::thread writer([&] {
    size_t off = 0;
    while (off < data.size()) {
      ssize_t n = write(fds[1], data.data() + off, std::min<size_t>(data.size() - off, 7777));
      if (n <= 0) break;
      off += static_cast<size_t>(n);
    }
    close(fds[1]);
  });
  LineReader reader(fds[0], max);
  std::vector<std::pair<LineReader::Status, std::string>> out;
  std::string line;
  for (;;) {
    auto st = reader.next(line);
    if (st == LineReader::Status::kEof || st == LineReader::Status::kError) break;
    out.emplace_back(st, st == LineReader::Status::kLine ? line : "");
  }
  writer.join();
  close(fds[0]);
  return out;
}

TEST(mcp_stdio_transport, SplitsLinesAcrossReads) {
  std::string data;
  for (int i = 0; i < 2000; ++i) data += "{\"n\":" + std::to_string(i) + "}\n";
  auto lines = read_all(data, 1024);
  ASSERT_EQ(lines.size(), 2000u);
  EXPECT_EQ(lines[1999].second, "{\"n\":1999}");
}

TEST(mcp_stdio_transport, DropsCarriageReturnAndKeepsALastUnterminatedLine) {
  auto lines = read_all("a\r\nb\n\nc", 100);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].second, "a");
  EXPECT_EQ(lines[1].second, "b");
  EXPECT_EQ(lines[2].second, "");
  EXPECT_EQ(lines[3].second, "c");
}

TEST(mcp_stdio_transport, OverlongLinesAreReportedAndSkipped) {
  std::string data = "short\n" + std::string(3'000'000, 'x') + "\nafter\n" +
                     std::string(5000, 'y');  // overlong and unterminated at EOF
  auto lines = read_all(data, 4096);
  ASSERT_EQ(lines.size(), 4u);
  EXPECT_EQ(lines[0].second, "short");
  EXPECT_EQ(lines[1].first, LineReader::Status::kOverlong);
  EXPECT_EQ(lines[2].second, "after");
  EXPECT_EQ(lines[3].first, LineReader::Status::kOverlong);
}

TEST(mcp_stdio_transport, WriterAppendsNewlines) {
  int fds[2];
  ASSERT_EQ(pipe(fds), 0);
  LineWriter w(fds[1]);
  EXPECT_TRUE(w.write("{\"a\":1}"));
  close(fds[1]);
  char buf[32] = {};
  ASSERT_EQ(read(fds[0], buf, sizeof buf), 8);
  EXPECT_EQ(std::string(buf), "{\"a\":1}\n");
  close(fds[0]);
}

}  // namespace
}  // namespace causeway::mcp
