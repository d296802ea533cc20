// The hash-chained audit log: appending, verification, and detection of tampering.
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
  r["hash"] = audit_record_hash(r);  // a careful forger fixes the record's own hash …
  lines[1] = to_wire(r);
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

TEST(mcp_audit_log, LargeArgumentsAreCapped) {
  Json big{{"sql", std::string(100000, 'x')}};
  Json capped = cap_json(big, kMaxAuditArgBytes);
  EXPECT_TRUE(capped.is_string());
  EXPECT_LT(to_wire(capped).size(), kMaxAuditArgBytes + 100);
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
