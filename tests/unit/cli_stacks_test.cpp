// `causeway stacks` end to end on a fixture trace: goldens for text, folded and JSON output,
// Python frames merged, filters, blocking intervals, honest frames for binaries that are
// gone, the no-write guarantee for read-only files, and bad input: out-of-range ids and
// --top, contradicting options, filters naming what the trace does not have (one sentence,
// exit 2), results that are legitimately empty or a trace without stacks (a sentence, exit
// 0), the ends-early note by call-graph mode and the unfinished-trace note.
//
// The fixture's symbols are stored in the trace as `causeway trace` stores them (a trace
// symbolized on the machine that recorded it), so the goldens do not depend on binaries on
// this machine; line-exact symbolization from real files is tested in
// symbolize_*_test.cpp and tests/privileged/stacks_trace_test.cpp.
#include <gtest/gtest.h>
#include <sqlite3.h>
#include <sys/stat.h>
#include <unistd.h>

#include <algorithm>
#include <nlohmann/json.hpp>
#include <regex>
#include <sstream>

#include "store/writer.h"
#include "support/golden.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

constexpr int64_t kOrigin = 2'000'000'000;
constexpr uint64_t kApp = 0x555500000000;  // /opt/trainer/bin/trainer
constexpr uint64_t kRt = 0x7f0000000000;   // /usr/lib/libcudart.so.13

void exec(sqlite3* db, const std::string& sql) {
  char* err = nullptr;
  ASSERT_EQ(sqlite3_exec(db, sql.c_str(), nullptr, nullptr, &err), SQLITE_OK)
      << (err ? err : "") << " in " << sql;
}

// Writes the fixture. `store_symbols`: add the symbols `causeway trace` would have stored.
void write_fixture(const std::string& path, bool store_symbols) {
  using namespace causeway::store;
  WriterOptions o;
  o.origin_ns = kOrigin;
  auto w = Writer::create(path, o);
  ASSERT_TRUE(w.ok()) << w.error();
  Writer& wr = **w;
  ASSERT_TRUE(
      wr.note_process({400, 1, "trainer", "trainer --steps 40", true, kOrigin, {}, {}}).ok());
  ASSERT_TRUE(wr.note_process({500, 1, "python3", "python3 train.py", true, kOrigin, {}, {}}).ok());
  for (int32_t pid : {400, 500}) {
    ASSERT_TRUE(wr.note_mapping({pid, kApp + 0x1000, kApp + 0x9000, 0x1000,
                                 "/opt/trainer/bin/trainer", "aa11"})
                    .ok());
    ASSERT_TRUE(wr.note_mapping({pid, kRt + 0x10000, kRt + 0x90000, 0x10000,
                                 "/opt/trainer/lib/libcudart.so.13", "bb22"})
                    .ok());
  }
  // Innermost first: the CUDA entry point, then return addresses.
  const uint64_t sync_main[] = {kRt + 0x12000, kApp + 0x1235, kApp + 0x2001};
  const uint64_t launch[] = {kRt + 0x13000, kApp + 0x1301, kApp + 0x2001};
  const uint64_t sync_odd[] = {kRt + 0x12000, kApp + 0x3001, 0x10};
  const uint64_t py_native[] = {kRt + 0x12000, 0x20};
  const StackId s_sync = wr.intern_stack(400, sync_main);
  const StackId s_launch = wr.intern_stack(400, launch);
  const StackId s_odd = wr.intern_stack(400, sync_odd);
  const StackId s_py_native = wr.intern_stack(500, py_native);
  const PyFrameRow py[] = {{"Model.step", "/srv/app/train.py", 31, false},
                           {"main", "/srv/app/train.py", 52, true}};
  const StackId s_py = wr.intern_py_stack(500, py);
  const StringId f_sync = wr.intern("cudaStreamSynchronize");
  const StringId f_launch = wr.intern("cudaLaunchKernel");
  int64_t ts = kOrigin;
  auto call = [&](int32_t pid, StringId fn, int64_t dur, StackId stack, StackId py_stack) {
    CudaCallRow c;
    c.ts_ns = ts;
    c.dur_ns = dur;
    c.pid = pid;
    c.tid = pid;
    c.function = fn;
    c.stack = stack;
    c.py_stack = py_stack;
    ts += dur + 1000;
    ASSERT_TRUE(wr.add(c).ok());
  };
  for (int i = 0; i < 30; ++i) {
    call(400, f_launch, 10'000, s_launch, 0);
    call(400, f_sync, 2'000'000, s_sync, 0);
  }
  for (int i = 0; i < 5; ++i) call(400, f_sync, 1'000'000, s_odd, 0);
  for (int i = 0; i < 3; ++i) call(400, f_sync, 500'000, 0, 0);
  for (int i = 0; i < 4; ++i) call(500, f_sync, 3'000'000, s_py_native, s_py);
  ThreadStateRow b;
  b.ts_ns = ts;
  b.dur_ns = 7'000'000;
  b.pid = 400;
  b.tid = 400;
  b.state = ThreadState::kSleeping;
  b.syscall_nr = 202;
  b.stack = s_sync;
  ASSERT_TRUE(wr.add(b).ok());
  ASSERT_TRUE(wr.close().ok());
  if (!store_symbols) return;

  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  // What the symbolizer stores: one symbol row per distinct function/file/line/module, and
  // per (process, looked-up address) its frames; pc - 1 for return addresses.
  exec(db,
       "INSERT INTO symbol (id, function, file, line, module, kind) VALUES "
       "(1, 'cudaStreamSynchronize', '/build/cudart/runtime_api.cpp', 210, "
       "'/opt/trainer/lib/libcudart.so.13', 'native'),"
       "(2, 'decode_step(Model&, int)', '/src/trainer/decode.cpp', 88, "
       "'/opt/trainer/bin/trainer', 'native'),"
       "(3, 'main', '/src/trainer/main.cpp', 40, '/opt/trainer/bin/trainer', 'native'),"
       "(4, 'cudaLaunchKernel', '/build/cudart/runtime_api.cpp', 120, "
       "'/opt/trainer/lib/libcudart.so.13', 'native'),"
       "(5, 'launch_attention(Model&)', '/src/trainer/kernels.h', 17, "
       "'/opt/trainer/bin/trainer', 'native'),"
       "(6, 'decode_step(Model&, int)', '/src/trainer/decode.cpp', 84, "
       "'/opt/trainer/bin/trainer', 'native'),"
       "(7, NULL, NULL, NULL, '/opt/trainer/bin/trainer', 'unresolved'),"
       "(8, NULL, NULL, NULL, NULL, 'no_mapping');");
  for (int pid : {400, 500}) {
    const std::string u = "(SELECT upid FROM process WHERE pid = " + std::to_string(pid) + ")";
    auto frame = [&](uint64_t pc, int idx, int sym, int inlined, const std::string& off) {
      exec(db, "INSERT INTO frame_symbol VALUES (" + u + ", " + std::to_string(pc) + ", " +
                   std::to_string(idx) + ", " + std::to_string(sym) + ", " +
                   std::to_string(inlined) + ", " + off + ")");
    };
    frame(kRt + 0x12000, 0, 1, 0, "73728");
    frame(kApp + 0x1234, 0, 2, 0, "4660");
    frame(kApp + 0x2000, 0, 3, 0, "8192");
    frame(kRt + 0x13000, 0, 4, 0, "77824");
    frame(kApp + 0x1300, 0, 5, 1, "4864");
    frame(kApp + 0x1300, 1, 6, 0, "4864");
    frame(kApp + 0x3000, 0, 7, 0, "12288");
    frame(0x0f, 0, 8, 0, "NULL");
    frame(0x1f, 0, 8, 0, "NULL");
  }
  exec(db, "INSERT OR REPLACE INTO meta (key, value) VALUES ('symbolized', '1')");
  sqlite3_close(db);
}

class CliStacksTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("trace.db");
    write_fixture(db_, true);
  }
  CommandResult stacks(std::vector<std::string> args) {
    std::vector<std::string> argv = {causeway_binary(), "stacks", "--db", db_};
    argv.insert(argv.end(), args.begin(), args.end());
    return run_command(argv);
  }
  TempDir dir_;
  std::string db_;
};

TEST_F(CliStacksTest, GoldenText) {
  CommandResult r = stacks({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(check_golden("stacks/all.txt", r.out), "");
  r = stacks({"--function", "cudaStreamSynchronize", "--pid", "400", "--top", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(check_golden("stacks/sync_pid400_top2.txt", r.out), "");
}

TEST_F(CliStacksTest, TextShowsLineExactFramesInnermostFirst) {
  CommandResult r = stacks({"--function", "cudaLaunchKernel"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  const auto first = r.out.find("cudaLaunchKernel at cudart/runtime_api.cpp:120");
  const auto inl = r.out.find("launch_attention(Model&) at trainer/kernels.h:17 (inlined)");
  const auto owner = r.out.find("decode_step(Model&, int) at trainer/decode.cpp:84");
  const auto root = r.out.find("main at trainer/main.cpp:40");
  ASSERT_NE(root, std::string::npos) << r.out;
  EXPECT_LT(first, inl);
  EXPECT_LT(inl, owner);
  EXPECT_LT(owner, root);
  EXPECT_NE(r.out.find("30 events"), std::string::npos) << r.out;
}

TEST_F(CliStacksTest, PythonFramesFollowTheTrustworthyNativeFrames) {
  CommandResult r = stacks({"--pid", "500"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.out.find("  cudaStreamSynchronize at cudart/runtime_api.cpp:210\n"
                       "  Model.step at app/train.py:31 [python; native frames below unknown]\n"
                       "  main at app/train.py:52 [python; native frames below unknown]\n"),
            std::string::npos)
      << r.out;
}

TEST_F(CliStacksTest, GoldenFoldedIsFlameGraphInput) {
  CommandResult r = stacks({"--folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(check_golden("stacks/folded.txt", r.out), "");
  // flamegraph.pl / inferno: "frame;frame;frame VALUE", root first, one stack per line.
  std::istringstream lines(r.out);
  std::string line;
  int64_t sum = 0;
  const std::regex shape(R"(^[^;\n]+(;[^;\n]+)* (\d+)$)");
  while (std::getline(lines, line)) {
    std::smatch m;
    ASSERT_TRUE(std::regex_match(line, m, shape)) << line;
    sum += std::stoll(m[2]);
  }
  // Every event with a stack, weighted by its duration: 30 x 10 us + 30 x 2 ms + 5 x 1 ms
  // + 4 x 3 ms.
  EXPECT_EQ(sum, 30 * 10'000 + 30 * 2'000'000 + 5 * 1'000'000 + 4 * 3'000'000);
  EXPECT_EQ(r.out.rfind("main;decode_step(Model&, int);cudaStreamSynchronize ", 0), 0u) << r.out;
  r = stacks({"--folded", "--weight", "count"});
  ASSERT_EQ(r.exit_code, 0);
  EXPECT_EQ(check_golden("stacks/folded_count.txt", r.out), "");
  // --top given: only the N heaviest lines, the same first lines as without it.
  const std::string all = stacks({"--folded"}).out;
  r = stacks({"--folded", "--top", "2"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  ASSERT_GT(std::count(all.begin(), all.end(), '\n'), 2) << all;
  EXPECT_EQ(std::count(r.out.begin(), r.out.end(), '\n'), 2) << r.out;
  EXPECT_EQ(all.rfind(r.out, 0), 0u) << r.out;
}

TEST_F(CliStacksTest, GoldenJson) {
  CommandResult r = stacks({"--json", "--top", "3"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["events"], 30 + 30 + 5 + 3 + 4);
  EXPECT_EQ(j["with_stack"], 30 + 30 + 5 + 4);
  EXPECT_TRUE(j["truncated"].get<bool>());
  EXPECT_EQ(check_golden("stacks/top3.json", r.out), "");
}

TEST_F(CliStacksTest, BlockedIntervals) {
  CommandResult r = stacks({"--blocked"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(check_golden("stacks/blocked.txt", r.out), "");
  r = stacks({"--blocked", "--function", "cudaMalloc"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("--function selects CUDA calls"), std::string::npos) << r.err;
}

TEST_F(CliStacksTest, TimeWindowSelectsOverlappingEvents) {
  // The first launch (10 us) and the first synchronize start within the first 12 us.
  CommandResult r = stacks({"--until", "12us", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["events"], 2);
  r = stacks({"--since", "soon"});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_NE(r.err.find("'soon' is not a time"), std::string::npos) << r.err;
  r = stacks({"--since", "2ms", "--until", "1ms"});
  EXPECT_EQ(r.exit_code, 2);
}

TEST(CliStacksUnsymbolizedTest, ReadOnlyTraceIsSymbolizedInMemoryAndHonest) {
  TempDir dir;
  const std::string db = dir.file("ro.db");
  write_fixture(db, false);
  ASSERT_EQ(chmod(db.c_str(), 0444), 0);
  // Root may write any file: run as nobody then, for whom the file really is read-only.
  std::vector<std::string> argv = {causeway_binary(), "stacks", "--db", db, "--top", "1"};
  if (geteuid() == 0) {
    ASSERT_EQ(chmod(dir.path().c_str(), 0755), 0);
    argv.insert(argv.begin(),
                {"/usr/bin/setpriv", "--reuid=65534", "--regid=65534", "--clear-groups"});
  }
  CommandResult r = run_command(argv);
  ASSERT_EQ(r.exit_code, 0) << r.err;
  // The binaries of the fixture do not exist here: module+offset, and why.
  EXPECT_NE(r.out.find("libcudart.so.13+0x12000 [binary no longer on disk]"), std::string::npos)
      << r.out;
  EXPECT_NE(r.out.find("trainer+0x1234 [binary no longer on disk]"), std::string::npos) << r.out;
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h, "SELECT count(*) FROM frame_symbol", -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int(st, 0), 0);  // nothing written
  sqlite3_finalize(st);
  sqlite3_close(h);
}

TEST(CliStacksUnsymbolizedTest, WritableTraceKeepsTheSymbols) {
  TempDir dir;
  const std::string db = dir.file("rw.db");
  write_fixture(db, false);
  CommandResult r = run_command({causeway_binary(), "stacks", "--db", db});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  sqlite3* h = nullptr;
  ASSERT_EQ(sqlite3_open_v2(db.c_str(), &h, SQLITE_OPEN_READONLY, nullptr), SQLITE_OK);
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2(h,
                               "SELECT (SELECT value FROM meta WHERE key = 'symbolized'), "
                               "(SELECT count(*) FROM stack_symbols WHERE kind = "
                               "'binary_missing')",
                               -1, &st, nullptr),
            SQLITE_OK);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_STREQ(reinterpret_cast<const char*>(sqlite3_column_text(st, 0)), "1");
  EXPECT_GT(sqlite3_column_int(st, 1), 0);
  sqlite3_finalize(st);
  sqlite3_close(h);
}

// Runs `sql` on the trace at `path` (a fixture variant: other meta, other names).
void edit(const std::string& path, const std::string& sql) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  exec(db, sql);
  sqlite3_close(db);
}

// One line on stderr, exit status 2 (bad input, as everywhere in the CLI), nothing on stdout,
// and the line contains `expect`.
void expect_refused(const CommandResult& r, const std::string& expect) {
  EXPECT_EQ(r.exit_code, 2) << r.out << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_EQ(r.err.rfind("causeway stacks: ", 0), 0u) << r.err;
  EXPECT_NE(r.err.find(expect), std::string::npos) << r.err;
}

// Ids of 0 or below (or beyond a kernel id) were taken for "no filter": every process shown
// under a heading that named one. A negative --top wrapped to "all".
TEST_F(CliStacksTest, IdsAndTopOutOfRangeAreRefused) {
  for (const char* pid : {"0", "-5", "4294967296"}) {
    expect_refused(stacks({"--pid", pid}), "--pid must be a positive process id");
  }
  for (const char* tid : {"0", "-1"}) {
    expect_refused(stacks({"--tid", tid}), "--tid must be a positive thread id");
  }
  for (const char* top : {"0", "-1", "99999999999999999999", "abc", "2.5"}) {
    expect_refused(stacks({"--top", top}), "--top must be a whole number of at least 1");
  }
}

TEST_F(CliStacksTest, OptionsThatWouldBeIgnoredAreRefused) {
  expect_refused(stacks({"--folded", "--json"}), "--folded and --json are alternatives; pick one.");
  expect_refused(stacks({"--weight", "count"}), "--weight sets the value of --folded lines");
  expect_refused(stacks({"--weight", "ns", "--json"}), "add --folded or drop --weight");
  expect_refused(stacks({"--function", ""}), "--function needs a CUDA function name");
}

// A function the trace never called is not "0 events": it is named as a mistake, with the
// traced names it was probably meant to be.
TEST_F(CliStacksTest, UnknownFunctionSuggestsTheTracedOnes) {
  expect_refused(stacks({"--function", "cudastreamsynchronize"}),
                 "no CUDA function 'cudastreamsynchronize' in this trace; did you mean "
                 "cudaStreamSynchronize (`causeway stats` lists the CUDA functions it called)?");
  expect_refused(stacks({"--function", "cudaLaunch"}), "did you mean cudaLaunchKernel");
  // Nothing close: the functions it did call, most time first.
  expect_refused(stacks({"--function", "cudaNoSuch"}),
                 "no CUDA function 'cudaNoSuch' in this trace; it called "
                 "cudaStreamSynchronize, cudaLaunchKernel.");
}

TEST_F(CliStacksTest, ProcessesAndThreadsNotTracedAreNamedAsSuch) {
  expect_refused(
      stacks({"--pid", "1"}),
      "pid 1 is not one of the traced processes; they are 400 \"trainer\", 500 \"python3\".");
  expect_refused(stacks({"--tid", "999999"}),
                 "tid 999999 is not one of the traced threads; they are 400");
  expect_refused(stacks({"--pid", "400", "--tid", "500"}),
                 "tid 500 is a thread of pid 500, not of pid 400; drop --pid or give --pid 500.");
  expect_refused(stacks({"--since", "10s"}), "--since 10s is past the end of the trace, which is ");
}

// Every filter names something real, they just select nothing: exit 0 and a sentence that
// says so, in each output form.
TEST_F(CliStacksTest, EmptyResultSaysWhy) {
  CommandResult r = stacks({"--pid", "500", "--function", "cudaLaunchKernel"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "cudaLaunchKernel calls (pid 500): no events; each filter names something in the "
            "trace, but no CUDA calls match them all together; widen one of them.\n");
  r = stacks({"--tid", "500", "--blocked"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out,
            "blocking intervals (tid 500): no events; thread 500 never blocked (slept or waited "
            "for I/O) while traced.\n");
  r = stacks({"--pid", "500", "--function", "cudaLaunchKernel", "--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_EQ(j["events"], 0);
  EXPECT_NE(j["note"].get<std::string>().find("no CUDA calls match them all"), std::string::npos);
  r = stacks({"--pid", "500", "--function", "cudaLaunchKernel", "--folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");  // flame-graph input stays clean; the reason goes to stderr
  EXPECT_NE(r.err.find("no CUDA calls match them all"), std::string::npos) << r.err;
  // A non-empty result has no note.
  r = stacks({"--json", "--top", "1"});
  EXPECT_TRUE(nlohmann::json::parse(r.out)["note"].is_null()) << r.out;
}

TEST_F(CliStacksTest, TraceWithoutStacksSaysHowToGetThem) {
  edit(db_,
       "INSERT OR REPLACE INTO meta (key, value) VALUES ('stacks', 'off'), ('call_graph', "
       "'off'); UPDATE cuda_call SET stack_id = NULL, py_stack_id = NULL; UPDATE thread_state "
       "SET stack_id = NULL");
  const std::string sentence =
      "this trace was recorded with --no-stacks (meta call_graph=off), so it has no call "
      "stacks; record it again without --no-stacks to get them.";
  CommandResult r = stacks({});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "CUDA calls: 72 events, 78.80 ms; " + sentence + "\n");
  r = stacks({"--folded"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_EQ(r.out, "");
  EXPECT_EQ(r.err, "causeway stacks: " + sentence + "\n");
  r = stacks({"--json"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  auto j = nlohmann::json::parse(r.out);
  EXPECT_FALSE(j["stacks_recorded"].get<bool>());
  EXPECT_EQ(j["call_graph"], "off");
  EXPECT_EQ(j["note"], sentence);
}

// The "walk stopped here" note: with a frame-pointer trace it points to --call-graph dwarf;
// with a trace that already used dwarf it must not (a larger copy, or code without CFI).
TEST_F(CliStacksTest, EndsEarlyNoteFollowsHowTheTraceTookItsStacks) {
  // The outermost frame of the synchronize stacks becomes a function other than main.
  edit(db_, "UPDATE symbol SET function = 'worker_loop' WHERE id = 3");
  for (const char* call_graph : {"fp", "dwarf,8192"}) {
    edit(db_, std::string("INSERT OR REPLACE INTO meta (key, value) VALUES ('call_graph', '") +
                  call_graph + "')");
    CommandResult r = stacks({"--function", "cudaStreamSynchronize", "--pid", "400"});
    ASSERT_EQ(r.exit_code, 0) << r.err;
    const bool dwarf = std::string(call_graph) != "fp";
    EXPECT_NE(r.out.find("  worker_loop at trainer/main.cpp:40\n  … the walk stopped here"),
              std::string::npos)
        << r.out;
    EXPECT_EQ(
        r.out.find("`causeway trace --call-graph dwarf` unwinds through it") != std::string::npos,
        !dwarf)
        << r.out;
    EXPECT_EQ(r.out.find("traced with --call-graph dwarf,8192") != std::string::npos, dwarf)
        << r.out;
  }
}

// Partial results must not look complete: the note `explain` and `stats` print.
TEST_F(CliStacksTest, TraceNotClosedCleanlySaysSo) {
  edit(db_, "UPDATE meta SET value = '0' WHERE key = 'complete'");
  CommandResult r = stacks({"--top", "1"});
  ASSERT_EQ(r.exit_code, 0) << r.err;
  EXPECT_NE(r.err.find("note: " + db_ + " was not closed cleanly"), std::string::npos) << r.err;
  EXPECT_NE(r.out.find("#1 "), std::string::npos) << r.out;
}

TEST(CliStacksBadInputTest, OneSentence) {
  TempDir dir;
  CommandResult r = run_command({causeway_binary(), "stacks", "--db", dir.file("nope.db")});
  EXPECT_EQ(r.exit_code, 2);
  EXPECT_EQ(std::count(r.err.begin(), r.err.end(), '\n'), 1) << r.err;
  EXPECT_NE(r.err.find("nope.db"), std::string::npos);
  r = run_command({causeway_binary(), "stacks", "--db", dir.file("nope.db"), "--top", "0"});
  EXPECT_EQ(r.exit_code, 2);
}

}  // namespace
}  // namespace causeway::testing
