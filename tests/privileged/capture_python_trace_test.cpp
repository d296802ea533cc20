// Python stacks end to end, with real BPF: the machine's /usr/bin/python3 runs
// sim/python/train_loop.py, which drives the simulated GPU through ctypes; every traced CUDA
// call must carry a Python stack whose frames name the script's functions at the exact lines
// of the calls (found by their "# @marker" comments), outer frames included, and the sleeps
// between steps must be blocked intervals with the Python stack of the time.sleep line.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <unistd.h>

#include <cstdio>
#include <filesystem>
#include <fstream>
#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace causeway::testing {
namespace {

const std::string kScript = source_path("sim/python/train_loop.py");

// Line of the script that carries `# @marker` (exact word).
int line_of(const std::string& marker) {
  std::ifstream in(kScript);
  std::string line;
  for (int n = 1; std::getline(in, line); n++) {
    const auto at = line.find("# @" + marker);
    if (at == std::string::npos) continue;
    const size_t end = at + 3 + marker.size();
    if (end == line.size() || line[end] == ' ') return n;
  }
  ADD_FAILURE() << "no marker @" << marker << " in " << kScript;
  return -1;
}

struct Frame {
  std::string function, file;
  int line = -1;
  int entry = 0;
};

class Db {
 public:
  explicit Db(const std::string& path) {
    if (sqlite3_open_v2(path.c_str(), &db_, SQLITE_OPEN_READONLY, nullptr) != SQLITE_OK)
      ADD_FAILURE() << "cannot open " << path;
  }
  ~Db() { sqlite3_close(db_); }
  std::vector<std::vector<std::string>> rows(const std::string& sql) {
    std::vector<std::vector<std::string>> out;
    sqlite3_stmt* st = nullptr;
    if (sqlite3_prepare_v2(db_, sql.c_str(), -1, &st, nullptr) != SQLITE_OK) {
      ADD_FAILURE() << sql << ": " << sqlite3_errmsg(db_);
      return out;
    }
    while (sqlite3_step(st) == SQLITE_ROW) {
      std::vector<std::string> r;
      for (int i = 0; i < sqlite3_column_count(st); i++) {
        const unsigned char* t = sqlite3_column_text(st, i);
        r.push_back(t ? reinterpret_cast<const char*>(t) : "");
      }
      out.push_back(r);
    }
    sqlite3_finalize(st);
    return out;
  }
  std::vector<Frame> stack(const std::string& id) {
    std::vector<Frame> out;
    for (const auto& r : rows("SELECT function, file, coalesce(line, -1), entry FROM python_frame "
                              "WHERE stack_id = " +
                              id + " ORDER BY depth")) {
      out.push_back({r[0], r[1], std::stoi(r[2]), std::stoi(r[3])});
    }
    return out;
  }

 private:
  sqlite3* db_ = nullptr;
};

CommandResult trace_script(const std::string& db, const std::vector<std::string>& extra,
                           const std::vector<std::string>& script_extra = {}) {
  std::vector<std::string> argv = {causeway_binary(), "trace", "--db", db};
  argv.insert(argv.end(), extra.begin(), extra.end());
  argv.insert(argv.end(), {"--", "/usr/bin/python3", kScript, "--cudart",
                           build_path("sim/libcudart.so.13"), "--steps", "4", "--sleep-ms", "30"});
  argv.insert(argv.end(), script_extra.begin(), script_extra.end());
  CommandResult r = run_command(argv);
  if (std::filesystem::exists(db)) {
    EXPECT_EQ(verify_trace(db), "") << db;
  }
  return r;
}

// The frames of a training-step call: innermost the method making the CUDA call, then step,
// train, main and the module, each at the line of its call.
void expect_step_stack(const std::vector<Frame>& s, const std::string& method,
                       const std::string& call_marker, const std::string& step_marker,
                       const std::string& what) {
  ASSERT_EQ(s.size(), 5u) << what;
  for (size_t i = 0; i < s.size(); i++) EXPECT_EQ(s[i].file, kScript) << what << " frame " << i;
  EXPECT_EQ(s[0].function, "Trainer." + method) << what;
  EXPECT_EQ(s[0].line, line_of(call_marker)) << what;
  EXPECT_EQ(s[1].function, "Trainer.step") << what;
  EXPECT_EQ(s[1].line, line_of(step_marker)) << what;
  EXPECT_EQ(s[2].function, "train") << what;
  EXPECT_EQ(s[2].line, line_of("call-step")) << what;
  EXPECT_EQ(s[3].function, "main") << what;
  EXPECT_EQ(s[3].line, line_of("call-train")) << what;
  EXPECT_EQ(s[4].function, "<module>") << what;
  EXPECT_EQ(s[4].line, line_of("call-main")) << what;
  // One eval-loop call (the module's) runs all of them: Python-to-Python calls stay in it.
  EXPECT_EQ(s[4].entry, 1) << what;
  for (size_t i = 0; i + 1 < s.size(); i++) EXPECT_EQ(s[i].entry, 0) << what << " frame " << i;
}

TEST(CapturePythonTrace, EveryCudaCallOfAPythonTrainingLoopHasItsExactPythonStack) {
  CAUSEWAY_REQUIRE_BPF();
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 here";
  TempDir dir;
  auto r = trace_script(dir.file("t.db"), {});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_NE(r.out.find("summary scenario=python_train_loop"), std::string::npos) << r.out;
  Db db(dir.file("t.db"));

  auto meta = db.rows("SELECT value FROM meta WHERE key = 'python'");
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_NE(meta[0][0].find("\"status\":\"ok\""), std::string::npos) << meta[0][0];
  EXPECT_NE(meta[0][0].find("\"version\":\"3."), std::string::npos) << meta[0][0];

  const std::map<std::string, std::pair<std::string, std::string>> expected = {
      {"cudaMalloc", {"alloc", "malloc"}},
      {"cudaMemcpy", {"upload", "memcpy"}},
      {"cudaLaunchKernel", {"launch", "launch"}},
      {"cudaStreamSynchronize", {"sync", "sync"}},
      {"cudaFree", {"free", "free"}},
  };
  std::map<std::string, int> seen;
  // Runtime-API calls of the script (the driver calls they make inside have the same
  // Python stack; they are checked below).
  for (const auto& row : db.rows("SELECT c.function, coalesce(cc.py_stack_id, 0) FROM cuda_calls "
                                 "c JOIN cuda_call cc ON cc.id = c.id ORDER BY c.ts")) {
    const std::string& fn = row[0];
    ASSERT_NE(row[1], "0") << fn << " has no Python stack";
    if (fn.rfind("cuda", 0) != 0) continue;
    auto it = expected.find(fn);
    ASSERT_NE(it, expected.end()) << "unexpected call " << fn;
    const auto& [method, marker] = it->second;
    expect_step_stack(db.stack(row[1]), method, marker, "call-" + method, fn);
    seen[fn]++;
  }
  for (const auto& [fn, unused] : expected) EXPECT_EQ(seen[fn], 4) << fn;
  // Driver calls made inside a runtime call carry the runtime call's Python stack.
  auto driver = db.rows(
      "SELECT count(*), count(DISTINCT f.line) FROM cuda_calls c JOIN cuda_call cc ON cc.id = c.id "
      "JOIN python_frame f ON f.stack_id = cc.py_stack_id AND f.depth = 0 WHERE c.function LIKE "
      "'cu%' AND c.function NOT LIKE 'cuda%'");
  ASSERT_EQ(driver.size(), 1u);
  EXPECT_GT(std::stoi(driver[0][0]), 0);

  // The sleeps between steps: blocked intervals whose Python stack is the time.sleep line.
  auto sleeps = db.rows(
      "SELECT s.py_stack_id, s.dur FROM thread_state s JOIN python_frame f ON f.stack_id = "
      "s.py_stack_id AND f.depth = 0 WHERE s.state IN (2, 3) AND f.function = "
      "'Trainer.next_batch' AND s.dur > 20000000");
  ASSERT_GE(sleeps.size(), 4u) << "sleeps with a Python stack";
  auto s = db.stack(sleeps[0][0]);
  ASSERT_EQ(s.size(), 5u);
  EXPECT_EQ(s[0].line, line_of("sleep"));
  EXPECT_EQ(s[1].line, line_of("call-next-batch"));
  EXPECT_EQ(s[4].function, "<module>");
  // Stacks are deduplicated: one per distinct call site (plus start-up and blocking sites).
  auto distinct = db.rows("SELECT count(*) FROM python_stack");
  EXPECT_LT(std::stoi(distinct[0][0]), 200);
}

// Code objects that are freed while the process runs (an import's module body, a notebook
// cell, exec) leave their address to later ones. Each chunk the script runs is a new code
// object of its own shape, most at an address an earlier chunk had, and lives ~100 ms after
// its call (its sleep). Every call must name its own chunk (its allocation size says which)
// at its own line, never the code object first seen at that address; the only other answer
// allowed is the honest one for a chunk the tracer reached only after it was freed (the
// tracer polls the ring every 20 ms, so on a loaded machine a few may be).
TEST(CapturePythonTrace, ShortLivedCodeObjectsAreNamedByTheirOwnCode) {
  CAUSEWAY_REQUIRE_BPF();
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 here";
  TempDir dir;
  constexpr int kChunks = 20, kChunkBytes = 4096;  // as exec_chunks in train_loop.py
  auto r = trace_script(dir.file("t.db"), {},
                        {"--exec-chunks", std::to_string(kChunks), "--chunk-sleep-ms", "100"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The premise: code objects did take freed ones' places (20 chunks on ~7 addresses).
  const auto at = r.out.find("exec_chunks chunks=");
  ASSERT_NE(at, std::string::npos) << r.out;
  int chunks = 0, addresses = 0;
  ASSERT_EQ(std::sscanf(r.out.c_str() + at, "exec_chunks chunks=%d code_addresses=%d", &chunks,
                        &addresses),
            2);
  EXPECT_EQ(chunks, kChunks);
  EXPECT_LT(addresses, kChunks / 2) << "the allocator did not reuse code objects' memory";
  Db db(dir.file("t.db"));
  int checked = 0, named = 0;
  for (const auto& row :
       db.rows("SELECT cc.bytes, coalesce(cc.py_stack_id, 0) FROM cuda_calls c JOIN cuda_call cc "
               "ON cc.id = c.id WHERE c.function = 'cudaMalloc' AND cc.bytes BETWEEN " +
               std::to_string(kChunkBytes) + " AND " + std::to_string(kChunkBytes + kChunks - 1) +
               " ORDER BY c.ts")) {
    const int chunk = std::stoi(row[0]) - kChunkBytes;
    checked++;
    ASSERT_NE(row[1], "0") << "chunk " << chunk << " has no Python stack";
    auto s = db.stack(row[1]);
    ASSERT_GE(s.size(), 3u) << "chunk " << chunk;
    EXPECT_EQ(s[1].function, "exec_chunks") << "chunk " << chunk;
    EXPECT_EQ(s[1].file, kScript) << "chunk " << chunk;
    if (s[0].function.rfind("<unresolved: code object", 0) == 0) {
      EXPECT_NE(s[0].function.find("freed and its memory reused"), std::string::npos)
          << "chunk " << chunk << ": " << s[0].function;
      EXPECT_TRUE(s[0].file.empty()) << "chunk " << chunk;
      continue;
    }
    EXPECT_EQ(s[0].file, "<chunk-" + std::to_string(chunk) + ">") << "chunk " << chunk;
    EXPECT_EQ(s[0].function, "<module>") << "chunk " << chunk;
    EXPECT_EQ(s[0].line, chunk + 2) << "chunk " << chunk;
    named++;
  }
  EXPECT_EQ(checked, kChunks);
  // Normally all of them; at least most even when the tracer lags.
  EXPECT_GE(named, kChunks * 3 / 4);
}

TEST(CapturePythonTrace, NoPythonStacksWhenTurnedOff) {
  CAUSEWAY_REQUIRE_BPF();
  if (access("/usr/bin/python3", X_OK) != 0) GTEST_SKIP() << "no /usr/bin/python3 here";
  TempDir dir;
  auto r = trace_script(dir.file("t.db"), {"--no-python-stacks"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  Db db(dir.file("t.db"));
  EXPECT_EQ(db.rows("SELECT count(*) FROM cuda_call")[0][0],
            db.rows("SELECT count(*) FROM cuda_call WHERE py_stack_id IS NULL")[0][0]);
  EXPECT_EQ(db.rows("SELECT count(*) FROM python_stack")[0][0], "0");
  auto meta = db.rows("SELECT value FROM meta WHERE key = 'python'");
  ASSERT_EQ(meta.size(), 1u);
  EXPECT_NE(meta[0][0].find("off"), std::string::npos) << meta[0][0];
}

}  // namespace
}  // namespace causeway::testing
