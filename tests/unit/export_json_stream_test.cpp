// JsonStream: commas, escaping (including invalid UTF-8), µs formatting, write errors.
#include "export/json_stream.h"

#include <gtest/gtest.h>

#include <cstdio>
#include <nlohmann/json.hpp>
#include <string>

namespace causeway::timeline {
namespace {

// Runs `body` on a stream over a temporary FILE and returns what it wrote.
template <typename F>
std::string written(F body) {
  std::FILE* f = std::tmpfile();
  {
    JsonStream w(f);
    body(w);
    EXPECT_TRUE(w.flush().ok());
  }
  std::rewind(f);
  std::string out;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) out.append(buf, n);
  std::fclose(f);
  return out;
}

TEST(ExportJsonStreamTest, NestedStructureGetsCommas) {
  const std::string out = written([](JsonStream& w) {
    w.begin_object().field("a", "x").field_int("b", -3);
    w.key("c").begin_array().integer(1).integer(2).begin_object().end_object().end_array();
    w.key("d").begin_object().field_int("e", 1).end_object();
    w.end_object();
  });
  EXPECT_EQ(out, R"({"a":"x","b":-3,"c":[1,2,{}],"d":{"e":1}})");
}

TEST(ExportJsonStreamTest, MicrosKeepEveryNanosecond) {
  const std::string out = written([](JsonStream& w) {
    w.begin_array().micros(0).micros(1).micros(1000).micros(1234567).micros(-1500);
    w.micros(9'007'199'254'740'993LL).end_array();
  });
  EXPECT_EQ(out, "[0,0.001,1,1234.567,-1.500,9007199254740.993]");
}

TEST(ExportJsonStreamTest, EscapesAndRepairsStrings) {
  const std::string bad = std::string("a\"b\\c\n\x01") + "\xff" + "\xc3\xa9" + "\xe2\x82";
  const std::string out =
      written([&](JsonStream& w) { w.begin_array().string(bad).hex(255).end_array(); });
  EXPECT_EQ(out, "[\"a\\\"b\\\\c\\n\\u0001\\ufffd\xc3\xa9\\ufffd\\ufffd\",\"0xff\"]");
  auto j = nlohmann::json::parse(out);  // strict parser accepts it
  EXPECT_EQ(j[1], "0xff");
}

TEST(ExportJsonStreamTest, LargeOutputIsStreamedThroughTheBuffer) {
  const std::string out = written([](JsonStream& w) {
    w.begin_array();
    for (int i = 0; i < 200000; ++i) w.string("0123456789");
    w.end_array();
  });
  EXPECT_GT(out.size(), JsonStream::kBufferBytes * 4);
  EXPECT_EQ(nlohmann::json::parse(out).size(), 200000u);
}

TEST(ExportJsonStreamTest, WriteErrorsAreReported) {
  std::FILE* f = std::fopen("/dev/full", "w");
  if (!f) GTEST_SKIP() << "no /dev/full";
  JsonStream w(f);
  w.begin_array();
  for (int i = 0; i < 100000; ++i) w.string("0123456789");
  w.end_array();
  Status st = w.flush();
  EXPECT_FALSE(st.ok());
  EXPECT_NE(st.message().find("No space"), std::string::npos) << st.message();
  std::fclose(f);
}

}  // namespace
}  // namespace causeway::timeline
