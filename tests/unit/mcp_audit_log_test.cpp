// The hash-chained audit log: appending, verification, and detection of tampering.
#include <unistd.h>

#include <fstream>
#include <sstream>
#include <thread>

#include <gtest/gtest.h>

#include "mcp/audit_log.h"
#include "support/test_support.h"

namespace causeway::mcp {
namespace {

using causeway::testing::TempDir;

std::vector<std::string> read_lines(const std::string& path) {
  std::ifstream in(path);
  std::vector<std::string> lines;
  std::string l;
  while (std::getline(in, l)) lines.push_back(l);
  return lines;
}

void write_lines(const std::string& path, const std::vector<std::string>& lines) {
  std::ofstream out(path, std::ios::trunc);
  for (const auto& l : lines) out << l << "\n";
}

void fill(const std::string& path, int n) {
  auto log = AuditLog::open(path);
  ASSERT_TRUE(log.ok()) << log.error();
  for (int i = 0; i < n; ++i) {
    AuditEntry e;
    e.client = "test/1";
    e.protocol_version = "2025-11-25";
    e.method = "tools/call";
    e.tool = "run_sql";
    e.id = i;
    e.arguments = Json{{"sql", "SELECT " + std::to_string(i)}};
    e.outcome = "ok";
    e.result_bytes = 100 + i;
    e.duration_us = 1000 * i;
    ASSERT_TRUE((*log)->append(e).ok());
  }
}

TEST(mcp_audit_log, RecordsAreChainedAndVerify) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 5);
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 5u);
  Json first = Json::parse(lines[0]);
  EXPECT_EQ(first["seq"], 1);
  EXPECT_EQ(first["prev"], std::string(64, '0'));
  EXPECT_EQ(first["client"], "test/1");
  EXPECT_EQ(first["tool"], "run_sql");
  EXPECT_EQ(first["args"]["sql"], "SELECT 0");
  EXPECT_EQ(first["outcome"], "ok");
  EXPECT_TRUE(first.contains("ts"));
  EXPECT_TRUE(first.contains("dur_us"));
  EXPECT_TRUE(first.contains("result_bytes"));
  EXPECT_EQ(Json::parse(lines[1])["prev"], first["hash"]);
  auto v = verify_audit_log(path);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 5);
}

TEST(mcp_audit_log, ReopeningContinuesTheChain) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 2);
  fill(path, 3);  // a second server process on the same log
  auto v = verify_audit_log(path);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 5);
}

TEST(mcp_audit_log, ConcurrentWritersKeepOneChain) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  std::vector<std::thread> threads;
  for (int t = 0; t < 4; ++t) threads.emplace_back([&] { fill(path, 25); });
  for (auto& t : threads) t.join();
  auto v = verify_audit_log(path);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 100);
}

TEST(mcp_audit_log, DetectsAnEditedRecord) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 5);
  auto lines = read_lines(path);
  Json r = Json::parse(lines[2]);
  r["args"]["sql"] = "SELECT 'innocent'";
  lines[2] = to_wire(r);
  write_lines(path, lines);
  auto v = verify_audit_log(path);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_line, 3);
  EXPECT_NE(v.problem.find("line 3"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("edited"), std::string::npos) << v.problem;
}

TEST(mcp_audit_log, DetectsAnEditWithARecomputedHash) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 5);
  auto lines = read_lines(path);
  Json r = Json::parse(lines[1]);
  r["outcome"] = "tool_error";
  r.erase("hash");
  lines[1] = seal_audit_record(r);  // a careful forger fixes the record's own hash …
  write_lines(path, lines);
  auto v = verify_audit_log(path);  // … but the next record still points at the old one
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_line, 3);
}

TEST(mcp_audit_log, DetectsDeletedAndReorderedRecords) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 5);
  auto lines = read_lines(path);
  auto removed = lines;
  removed.erase(removed.begin() + 1);
  write_lines(path, removed);
  auto v = verify_audit_log(path);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_line, 2);
  auto swapped = lines;
  std::swap(swapped[3], swapped[4]);
  write_lines(path, swapped);
  EXPECT_FALSE(verify_audit_log(path).ok);
  write_lines(path, {lines[0], "garbage", lines[2]});
  EXPECT_EQ(verify_audit_log(path).first_bad_line, 2);
}

// Issue 16 item 15: the hash covers the bytes as written, so edits that a re-serialising
// parser would undo are caught too.
TEST(mcp_audit_log, DetectsByteLevelEditsThatParseTheSame) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 3);
  const auto lines = read_lines(path);
  auto expect_bad_line_2 = [&](const std::string& edited, const char* what) {
    auto copy = lines;
    copy[1] = edited;
    write_lines(path, copy);
    auto v = verify_audit_log(path);
    EXPECT_FALSE(v.ok) << what;
    EXPECT_EQ(v.first_bad_line, 2) << what << ": " << v.problem;
  };
  // A duplicated key: a parser that keeps the first "args" shows the fake one.
  std::string dup = lines[1];
  dup.insert(1, R"("args":{"sql":"SELECT 'innocent'"},)");
  expect_bad_line_2(dup, "duplicate key");
  {
    auto copy = lines;
    copy[1] = dup;
    write_lines(path, copy);
    EXPECT_NE(verify_audit_log(path).problem.find("twice"), std::string::npos);
  }
  // Whitespace inside the record.
  std::string spaced = lines[1];
  spaced.replace(spaced.find(R"("seq":)"), 6, R"("seq": )");
  expect_bad_line_2(spaced, "whitespace");
  // Key order: move "ts" to the front (same members, same values).
  Json r = Json::parse(lines[1]);
  std::string ts = R"("ts":)" + r["ts"].dump() + ",";
  std::string reordered = lines[1];
  reordered.erase(reordered.find(ts), ts.size());
  reordered.insert(1, ts);
  ASSERT_EQ(Json::parse(reordered), r);
  expect_bad_line_2(reordered, "key order");
  // Unchanged: verifies.
  write_lines(path, lines);
  EXPECT_TRUE(verify_audit_log(path).ok);
}

// Issue 16 item 12: every client-supplied value is capped, so a record stays bounded and the
// next appender finds the last record however large the input was.
TEST(mcp_audit_log, HugeClientValuesAreCappedAndTheChainHolds) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  auto log = AuditLog::open(path);
  ASSERT_TRUE(log.ok());
  for (int i = 0; i < 4; ++i) {
    AuditEntry e;
    e.client = std::string(3'000'000, 'n') + "/" + std::string(100'000, 'v');
    e.method = std::string(300'000, 'm');
    e.id = std::string(300'000, 'i');
    e.tool = std::string(300'000, 't');
    e.error = std::string(300'000, 'e');
    e.arguments = Json{{"sql", std::string(300'000, 'x')}};
    e.outcome = "rpc_error";
    ASSERT_TRUE((*log)->append(e).ok());
  }
  auto lines = read_lines(path);
  ASSERT_EQ(lines.size(), 4u);
  for (const auto& l : lines) EXPECT_LE(l.size(), kMaxAuditRecordBytes);
  Json first = Json::parse(lines[0]);
  EXPECT_NE(first["id"].get<std::string>().find("truncated, 300002 bytes, sha256 "),
            std::string::npos);
  EXPECT_NE(first["method"].get<std::string>().find("truncated, 300000 bytes"), std::string::npos);
  auto v = verify_audit_log(path);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 4);
}

// A last line longer than the old 256 KiB tail window (damage, or a record from an older
// version) is found whole; appending continues and verification names the bad line.
TEST(mcp_audit_log, AnOverlongLastLineIsNamedNotMisread) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 2);
  {
    std::ofstream out(path, std::ios::app);
    out << std::string(300 * 1024, 'z') << "\n";
  }
  fill(path, 1);
  auto v = verify_audit_log(path);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_line, 3);
  EXPECT_NE(v.problem.find("longer than any record"), std::string::npos) << v.problem;
}

// Issue 16 item 13: a record is whole or absent. A torn tail (a writer killed mid-write) is
// named precisely by the verifier and removed by the next appender before it chains.
TEST(mcp_audit_log, ATornTailIsNamedAndRepairedByTheNextAppend) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 3);
  auto lines = read_lines(path);
  {
    std::ofstream out(path, std::ios::trunc);
    out << lines[0] << "\n" << lines[1] << "\n" << lines[2].substr(0, lines[2].size() / 2);
  }
  auto v = verify_audit_log(path);
  EXPECT_FALSE(v.ok);
  EXPECT_EQ(v.first_bad_line, 3);
  EXPECT_NE(v.problem.find("cut short"), std::string::npos) << v.problem;
  EXPECT_NE(v.problem.find("the 2 records before it verify"), std::string::npos) << v.problem;
  fill(path, 1);
  v = verify_audit_log(path);
  EXPECT_TRUE(v.ok) << v.problem;
  EXPECT_EQ(v.records, 3);
}

TEST(mcp_audit_log, AFullDeviceIsAnErrorAndWritesNothing) {
  if (access("/dev/full", W_OK) != 0) GTEST_SKIP() << "no /dev/full";
  auto log = AuditLog::open("/dev/full");
  ASSERT_TRUE(log.ok()) << log.error();
  AuditEntry e;
  e.method = "ping";
  e.outcome = "ok";
  Status st = (*log)->append(e);
  ASSERT_FALSE(st.ok());
  EXPECT_NE(st.message().find("No space left"), std::string::npos) << st.message();
}

TEST(mcp_audit_log, RenderingEscapesTerminalControls) {
  Json r{{"seq", 1},
         {"ts", "t"},
         {"client", "evil\n#2 2026 fake/1 tools/call run_sql → ok\x1b]0;PWN\x07"},
         {"method", "ping\r\x1b[2J"},
         {"outcome", "ok"},
         {"args",
          {{"x",
            "\xc2\x9b"
            "31m"}}}};
  std::string out = render_audit_record(r);
  EXPECT_EQ(out.find('\n'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x1b'), std::string::npos) << out;
  EXPECT_EQ(out.find('\r'), std::string::npos) << out;
  EXPECT_EQ(out.find('\x07'), std::string::npos) << out;
  EXPECT_EQ(out.find("\xc2\x9b"), std::string::npos) << out;
  EXPECT_NE(out.find("\\e]0;PWN\\a"), std::string::npos) << out;
}

TEST(mcp_audit_log, LargeArgumentsAreCapped) {
  Json big{{"sql", std::string(100000, 'x')}};
  Json capped = cap_json(big, kMaxAuditArgBytes);
  EXPECT_TRUE(capped.is_string());
  EXPECT_LT(to_wire(capped).size(), kMaxAuditArgBytes + 200);  // + marker with size and hash
}

TEST(mcp_audit_log, CliPrintsAndVerifies) {
  TempDir dir;
  std::string path = dir.file("a.jsonl");
  fill(path, 3);
  auto bin = causeway::testing::causeway_binary();
  auto ok = causeway::testing::run_command({bin, "audit", "--verify", path});
  EXPECT_EQ(ok.exit_code, 0) << ok.err;
  EXPECT_NE(ok.out.find("3 records"), std::string::npos) << ok.out;
  auto show = causeway::testing::run_command({bin, "audit", path});
  EXPECT_EQ(show.exit_code, 0);
  EXPECT_NE(show.out.find("#2 "), std::string::npos) << show.out;
  EXPECT_NE(show.out.find("run_sql"), std::string::npos) << show.out;
  auto lines = read_lines(path);
  Json r = Json::parse(lines[1]);
  r["tool"] = "describe_schema";
  lines[1] = to_wire(r);
  write_lines(path, lines);
  auto bad = causeway::testing::run_command({bin, "audit", "--verify", path});
  EXPECT_NE(bad.exit_code, 0);
  EXPECT_NE(bad.err.find("line 2"), std::string::npos) << bad.err;
}

}  // namespace
}  // namespace causeway::mcp
