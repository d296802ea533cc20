// Fuzz target: the SQL guard behind the MCP tool run_sql (mcp::TraceDb::query): the one-
// statement and read-only checks, the authorizer, the engine limits, the guarded printf/format,
// trim, replace and instr, parameter binding, and the row/byte/time caps.
//
// Input: SQL text, optionally followed by a NUL byte and a JSON array of parameters.
// Invariants checked besides "no crash, no sanitizer finding": the trace file's bytes never
// change (checked every kFileCheckEvery inputs), and no query outlives its time limit by
// more than kOverrunMs (a function call the progress handler cannot stop).
#include <chrono>
#include <cstddef>
#include <cstdint>
#include <memory>
#include <string>
#include <string_view>
#include <vector>

#include "fuzz_support.h"
#include "mcp/mcp_fixture.h"
#include "mcp/trace_db.h"

namespace {

using namespace causeway;

constexpr int kFileCheckEvery = 512;
constexpr int64_t kTimeLimitMs = 200;
// Generous: sanitizers slow SQLite's callers down, and the machine may be busy.
constexpr int64_t kOverrunMs = 5000;

struct State {
  std::unique_ptr<mcp::TraceDb> db;
  std::string path;
  std::string bytes;  // the file as written
  int inputs = 0;
};
State* g = nullptr;

}  // namespace

extern "C" int LLVMFuzzerInitialize(int*, char***) {
  g = new State;
  g->path = fuzz::scratch_dir() + "/trace.db";
  Status st = testing::write_fixture_trace(g->path);
  if (!st.ok()) fuzz::fail(st.message());
  g->bytes = fuzz::read_file(g->path);
  auto db = mcp::TraceDb::open(g->path, fuzz::engine_limits());
  if (!db.ok()) fuzz::fail(db.error());
  g->db = std::move(*db);
  return 0;
}

extern "C" int LLVMFuzzerTestOneInput(const uint8_t* data, size_t size) {
  std::string_view input(reinterpret_cast<const char*>(data), size);
  std::string_view sql = input.substr(0, input.find('\0'));
  std::vector<mcp::Json> params;
  if (sql.size() < input.size()) {
    mcp::Json p = mcp::Json::parse(input.substr(sql.size() + 1), nullptr, false);
    if (p.is_array()) {
      for (auto& v : p) params.push_back(v);
    }
  }
  mcp::QueryLimits limits;
  limits.time_limit_ms = kTimeLimitMs;
  limits.max_rows = 50;
  limits.max_result_bytes = 256 * 1024;
  const auto start = std::chrono::steady_clock::now();
  auto r = g->db->query(sql, params, limits);
  const auto ms = std::chrono::duration_cast<std::chrono::milliseconds>(
                      std::chrono::steady_clock::now() - start)
                      .count();
  if (ms > kTimeLimitMs + kOverrunMs) {
    fuzz::fail("a query ran " + std::to_string(ms) + " ms under a " + std::to_string(kTimeLimitMs) +
               " ms limit");
  }
  if (!r.ok() && r.error().empty()) fuzz::fail("a refusal without a sentence");
  if (++g->inputs % kFileCheckEvery == 0 && fuzz::read_file(g->path) != g->bytes) {
    fuzz::fail("the trace file changed under a read-only query");
  }
  return 0;
}
