// StackSymbolizer and symbolize_and_store on a trace written through the store Writer whose
// stacks point into this test binary (mapped as /proc/self/maps says): computed in memory on
// a read-only connection, stored once by the writer path, read back from storage, shown by
// the stack_symbols view, merged with Python frames when a trace has them.
#include "symbolize/stack_symbols.h"

#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstdlib>
#include <fstream>
#include <memory>

#include "fixtures/own_mappings.h"
#include "host/elf_file.h"
#include "store/reader.h"
#include "store/writer.h"
#include "support/test_support.h"
#include "symbolize/stack_aggregate.h"

namespace causeway::symbolize {
namespace stack_probe {

__attribute__((noinline)) uint64_t return_address() {
  return reinterpret_cast<uint64_t>(__builtin_return_address(0));
}

__attribute__((noinline)) uint64_t issue_call() {
  volatile uint64_t r = return_address();  // LINE_ISSUE_CALL
  return r;
}

}  // namespace stack_probe

namespace {

using causeway::testing::TempDir;

int64_t marker_line(const std::string& marker) {
  std::ifstream in(std::string(CAUSEWAY_SOURCE_DIR) +
                   "/tests/unit/symbolize_stack_symbols_test.cpp");
  std::string line;
  for (int64_t n = 1; std::getline(in, line); ++n) {
    if (line.find("// " + marker) != std::string::npos) return n;
  }
  return -1;
}

using causeway::testing::own_mappings;

constexpr int32_t kPid = 300;
constexpr int64_t kOriginNs = 1'000'000'000;  // the traces' origin (CLOCK_MONOTONIC ns)

// A new trace at `db` holding process kPid ("app") with this process's executable mappings,
// so stacks of real addresses in this test binary symbolize.
std::unique_ptr<store::Writer> trace_of_this_process(const std::string& db) {
  store::WriterOptions o;
  o.origin_ns = kOriginNs;
  auto w = store::Writer::create(db, o);
  if (!w.ok()) {
    ADD_FAILURE() << w.error();
    return nullptr;
  }
  EXPECT_TRUE(
      (*w)->note_process({kPid, 1, "app", "app", true, std::nullopt, std::nullopt, std::nullopt})
          .ok());
  for (const auto& m : own_mappings(kPid)) EXPECT_TRUE((*w)->note_mapping(m).ok());
  return std::move(*w);
}

class SymbolizeStackSymbolsTest : public ::testing::Test {
 protected:
  void SetUp() override {
    db_ = dir_.file("trace.db");
    auto w = trace_of_this_process(db_);
    ASSERT_TRUE(w);
    store::Writer& wr = *w;
    // Innermost first: the probed function's entry (exact pc), the return address in the
    // caller, an address outside every mapping.
    const uint64_t frames[] = {reinterpret_cast<uint64_t>(&stack_probe::return_address),
                               stack_probe::issue_call(), 0x10};
    stack_ = wr.intern_stack(kPid, frames);
    store::CudaCallRow c;
    c.ts_ns = kOriginNs + 1000;
    c.dur_ns = 500;
    c.pid = kPid;
    c.tid = kPid;
    c.function = wr.intern("cudaMalloc");
    c.stack = stack_;
    ASSERT_TRUE(wr.add(c).ok());
    c.ts_ns += 1000;
    c.dur_ns = 700;
    ASSERT_TRUE(wr.add(c).ok());
    ASSERT_TRUE(wr.close().ok());
  }

  void expect_frames(const std::vector<Frame>& f) {
    ASSERT_EQ(f.size(), 3u);
    EXPECT_EQ(f[0].function, "causeway::symbolize::stack_probe::return_address()");
    EXPECT_EQ(f[0].kind, FrameKind::kNative);
    EXPECT_EQ(f[1].function, "causeway::symbolize::stack_probe::issue_call()");
    EXPECT_EQ(f[1].line, marker_line("LINE_ISSUE_CALL"));
    EXPECT_NE(f[1].file.find("symbolize_stack_symbols_test.cpp"), std::string::npos);
    EXPECT_EQ(f[2].kind, FrameKind::kNoMapping);
    EXPECT_EQ(f[2].pc, 0x10u);
  }

  TempDir dir_;
  std::string db_;
  int64_t stack_ = 0;
};

TEST_F(SymbolizeStackSymbolsTest, ReaderComputesInMemoryWithoutWriting) {
  auto r = store::Reader::open(db_);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  auto frames = s.native(stack_);
  ASSERT_TRUE(frames.ok()) << frames.error();
  expect_frames(*frames);
  EXPECT_FALSE(s.used_stored());
  EXPECT_EQ(s.computed_addresses(), 3);
  EXPECT_FALSE(stacks_symbolized((*r)->db()));
  EXPECT_EQ((*r)->count_rows("frame_symbol").value_or(-1), 0);
}

TEST_F(SymbolizeStackSymbolsTest, StoredOnceThenReadBack) {
  auto summary = symbolize_and_store(db_);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->addresses, 3);
  EXPECT_EQ(summary->unresolved, 1);
  auto r = store::Reader::open(db_);
  ASSERT_TRUE(r.ok());
  EXPECT_TRUE(stacks_symbolized((*r)->db()));
  StackSymbolizer s((*r)->db());
  auto frames = s.native(stack_);
  ASSERT_TRUE(frames.ok());
  expect_frames(*frames);
  EXPECT_TRUE(s.used_stored());
  EXPECT_EQ(s.computed_addresses(), 0);
  // The view an agent queries.
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*r)->db(),
                               "SELECT depth, function, line, kind FROM stack_symbols WHERE "
                               "stack_id = ?1 ORDER BY depth, inline_depth",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_bind_int64(st, 1, stack_);
  std::vector<std::string> kinds;
  int64_t call_line = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    kinds.push_back(reinterpret_cast<const char*>(sqlite3_column_text(st, 3)));
    if (sqlite3_column_int(st, 0) == 1) call_line = sqlite3_column_int64(st, 2);
  }
  sqlite3_finalize(st);
  EXPECT_EQ(kinds, (std::vector<std::string>{"native", "native", "no_mapping"}));
  EXPECT_EQ(call_line, marker_line("LINE_ISSUE_CALL"));
  // Storing again replaces, never duplicates.
  ASSERT_TRUE(symbolize_and_store(db_).ok());
  EXPECT_EQ((*r)->count_rows("frame_symbol").value_or(-1), 3);
}

// A mapped file without a build-id is checked by the size and mtime in its mapping row; a
// trace from before those columns existed cannot check it, and says so.
TEST_F(SymbolizeStackSymbolsTest, FilesWithoutABuildIdAreCheckedByTheRecordedStamp) {
  if (std::system("command -v objcopy >/dev/null 2>&1") != 0) GTEST_SKIP() << "no objcopy";
  std::string self;
  for (const auto& m : own_mappings(kPid)) {
    if (m.start <= stack_probe::issue_call() && stack_probe::issue_call() < m.end) self = m.path;
  }
  ASSERT_FALSE(self.empty());
  const std::string copy = dir_.file("nb");
  ASSERT_EQ(
      std::system(
          ("objcopy --remove-section .note.gnu.build-id '" + self + "' '" + copy + "'").c_str()),
      0);
  ASSERT_EQ(host::read_build_id(copy), "");
  const auto stamp = host::read_file_stamp(copy);
  ASSERT_TRUE(stamp);
  // The trace as capture would have written it, had the program been this copy.
  auto retarget = [&](const std::string& set) {
    causeway::testing::exec_sql(
        db_, "UPDATE mapping SET path = '" + copy + "', " + set + " WHERE path = '" + self + "'");
  };
  auto frame_at_depth_1 = [&] {
    auto r = store::Reader::open(db_);
    EXPECT_TRUE(r.ok());
    StackSymbolizer s((*r)->db());
    auto frames = s.native(stack_);
    EXPECT_TRUE(frames.ok());
    return frames.ok() && frames->size() == 3 ? (*frames)[1] : Frame{};
  };
  retarget("build_id = NULL, file_size = " + std::to_string(stamp->size_bytes) +
           ", file_mtime_ns = " + std::to_string(stamp->mtime_ns));
  EXPECT_EQ(frame_at_depth_1().function, "causeway::symbolize::stack_probe::issue_call()");
  causeway::testing::exec_sql(db_, "UPDATE mapping SET file_mtime_ns = file_mtime_ns - 1");
  EXPECT_EQ(frame_at_depth_1().kind, FrameKind::kBinaryChanged);
  // An older trace: no such columns at all.
  causeway::testing::exec_sql(
      db_,
      "ALTER TABLE mapping DROP COLUMN file_size; ALTER TABLE mapping DROP COLUMN "
      "file_mtime_ns");
  const Frame old = frame_at_depth_1();
  EXPECT_EQ(old.kind, FrameKind::kBinaryUnverified);
  EXPECT_EQ(describe(old).rfind("nb+0x", 0), 0u) << describe(old);
}

TEST_F(SymbolizeStackSymbolsTest, AggregatesEventsByStack) {
  auto r = store::Reader::open(db_);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  StackQuery q;
  q.function = "cudaMalloc";
  auto agg = aggregate_stacks((*r)->db(), s, q);
  ASSERT_TRUE(agg.ok()) << agg.error();
  EXPECT_EQ(agg->events, 2);
  EXPECT_EQ(agg->events_ns, 1200);
  EXPECT_EQ(agg->with_stack, 2);
  ASSERT_EQ(agg->stacks.size(), 1u);
  EXPECT_EQ(agg->stacks[0].count, 2);
  expect_frames(agg->stacks[0].frames);
  q.function = "cudaFree";
  agg = aggregate_stacks((*r)->db(), s, q);
  ASSERT_TRUE(agg.ok());
  EXPECT_EQ(agg->events, 0);
}

// Gives every CUDA call of the trace at `path` Python stack 1 (two frames), in the layout
// capture writes for CPython stacks.
void add_python_stack(const std::string& path) {
  sqlite3* db = nullptr;
  ASSERT_EQ(sqlite3_open(path.c_str(), &db), SQLITE_OK);
  ASSERT_EQ(sqlite3_exec(db,
                         "CREATE TABLE IF NOT EXISTS python_frame (stack_id INTEGER, depth "
                         "INTEGER, function TEXT, file TEXT, line INTEGER, entry INTEGER);"
                         "DELETE FROM python_frame;"
                         "INSERT INTO python_frame VALUES (1, 0, 'step', '/app/train.py', 30, "
                         "1), (1, 1, '<module>', '/app/train.py', 44, 1);",
                         nullptr, nullptr, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg(db);
  sqlite3_exec(db, "ALTER TABLE cuda_call ADD COLUMN py_stack_id INTEGER", nullptr, nullptr,
               nullptr);
  ASSERT_EQ(sqlite3_exec(db, "UPDATE cuda_call SET py_stack_id = 1", nullptr, nullptr, nullptr),
            SQLITE_OK);
  sqlite3_close(db);
}

// The SQL interface shows the stacks `causeway stacks` shows: merged_stack_symbols, reached
// from an event through cuda_calls.merged_stack_id.
TEST_F(SymbolizeStackSymbolsTest, MergedStacksAreStoredForSql) {
  add_python_stack(db_);
  auto summary = symbolize_and_store(db_);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->merged_stacks, 1);
  auto r = store::Reader::open(db_);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  auto agg = aggregate_stacks((*r)->db(), s, {});
  ASSERT_TRUE(agg.ok()) << agg.error();
  ASSERT_EQ(agg->stacks.size(), 1u);
  const auto& want = agg->stacks[0].frames;
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*r)->db(),
                               "SELECT m.depth, m.function, m.line, m.kind, m.pc_hex, "
                               "c.py_stack_id, m.stack_id FROM cuda_calls c JOIN "
                               "merged_stack_symbols m ON m.merged_stack_id = c.merged_stack_id "
                               "WHERE c.id = 1 ORDER BY m.depth",
                               -1, &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg((*r)->db());
  size_t n = 0;
  while (sqlite3_step(st) == SQLITE_ROW) {
    ASSERT_LT(n, want.size());
    const Frame& f = want[n];
    EXPECT_EQ(sqlite3_column_int64(st, 0), static_cast<int64_t>(n));
    auto col = [&](int i) {
      const unsigned char* t = sqlite3_column_text(st, i);
      return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
    };
    EXPECT_EQ(col(1), f.function) << n;
    EXPECT_EQ(sqlite3_column_int64(st, 2), f.line) << n;
    EXPECT_EQ(col(3), std::string(kind_name(f.kind))) << n;
    const bool python = f.kind == FrameKind::kPythonAppended || f.kind == FrameKind::kPython;
    EXPECT_EQ(sqlite3_column_type(st, 4) == SQLITE_NULL, python) << n;
    EXPECT_EQ(sqlite3_column_int64(st, 5), 1);
    EXPECT_EQ(sqlite3_column_int64(st, 6), stack_);
    ++n;
  }
  sqlite3_finalize(st);
  EXPECT_EQ(n, want.size());
  EXPECT_EQ(n, 4u);  // two native frames, then the two appended Python frames
  // thread_states has the columns too (no rows in this trace).
  ASSERT_EQ(sqlite3_prepare_v2((*r)->db(), "SELECT py_stack_id, merged_stack_id FROM thread_states",
                               -1, &st, nullptr),
            SQLITE_OK);
  sqlite3_finalize(st);
  // Symbolizing again replaces the merged stacks, never duplicates them.
  ASSERT_TRUE(symbolize_and_store(db_).ok());
  EXPECT_EQ((*r)->count_rows("merged_stack").value_or(-1), 1);
  EXPECT_EQ((*r)->count_rows("merged_frame").value_or(-1), 4);
}

// Events without Python stacks (most of a real trace) get merged stacks built straight from
// the stored addresses: they must be exactly the native frames, with each frame's captured
// pc and module offset; a stack no event has gets none, and an event whose stack id has no
// frames gets an empty merged stack.
TEST(SymbolizeStackSymbolsMerged, NativeOnlyEventsStoreTheirNativeFrames) {
  TempDir dir;
  const std::string db = dir.file("native.db");
  auto w = trace_of_this_process(db);
  ASSERT_TRUE(w);
  store::Writer& wr = *w;
  const uint64_t ret = stack_probe::issue_call();
  const uint64_t entry = reinterpret_cast<uint64_t>(&stack_probe::return_address);
  const uint64_t with_unmapped[] = {entry, ret, 0x10};
  const uint64_t unused[] = {ret};
  const uint64_t unmapped_first[] = {0x30, entry};
  const int64_t a = wr.intern_stack(kPid, with_unmapped);
  (void)wr.intern_stack(kPid, unused);
  const int64_t c = wr.intern_stack(kPid, unmapped_first);
  constexpr int64_t kNoSuchStack = 999'999;
  store::CudaCallRow call;
  call.ts_ns = kOriginNs + 1000;
  call.pid = kPid;
  call.tid = kPid;
  call.function = wr.intern("cudaLaunchKernel");
  for (int64_t stack : {c, a, c, kNoSuchStack}) {
    call.ts_ns += 1000;
    call.stack = stack;
    ASSERT_TRUE(wr.add(call).ok());
  }
  ASSERT_TRUE(wr.close().ok());

  auto summary = symbolize_and_store(db);
  ASSERT_TRUE(summary.ok()) << summary.error();
  EXPECT_EQ(summary->merged_stacks, 3);
  // entry, ret - 1, 0xf (stack a); ret (b, innermost); 0x30, entry - 1 (c).
  EXPECT_EQ(summary->addresses, 6);
  auto r = store::Reader::open(db);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  sqlite3_stmt* st = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*r)->db(),
                               "SELECT ms.depth, mf.depth, y.function, y.line, y.kind, mf.pc, "
                               "mf.module_offset, mf.inlined FROM merged_stack ms LEFT JOIN "
                               "merged_frame mf ON mf.merged_stack_id = ms.id LEFT JOIN symbol y "
                               "ON y.id = mf.symbol_id WHERE ms.stack_id = ?1 AND ms.py_stack_id "
                               "IS NULL ORDER BY mf.depth",
                               -1, &st, nullptr),
            SQLITE_OK)
      << sqlite3_errmsg((*r)->db());
  for (int64_t stack : {a, c}) {
    auto want = s.native(stack);
    ASSERT_TRUE(want.ok());
    ASSERT_FALSE(want->empty());
    sqlite3_reset(st);
    sqlite3_bind_int64(st, 1, stack);
    size_t n = 0;
    while (sqlite3_step(st) == SQLITE_ROW) {
      ASSERT_LT(n, want->size()) << stack;
      const Frame& f = (*want)[n];
      auto col = [&](int i) {
        const unsigned char* t = sqlite3_column_text(st, i);
        return t ? std::string(reinterpret_cast<const char*>(t)) : std::string();
      };
      EXPECT_EQ(sqlite3_column_int64(st, 0), static_cast<int64_t>(want->size())) << stack;
      EXPECT_EQ(sqlite3_column_int64(st, 1), static_cast<int64_t>(n)) << stack;
      EXPECT_EQ(col(2), f.function) << stack << " " << n;
      EXPECT_EQ(sqlite3_column_int64(st, 3), f.line) << stack << " " << n;
      EXPECT_EQ(col(4), std::string(kind_name(f.kind))) << stack << " " << n;
      EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(st, 5)), f.pc) << stack << " " << n;
      if (f.kind == FrameKind::kNoMapping) {
        EXPECT_EQ(sqlite3_column_type(st, 6), SQLITE_NULL) << stack << " " << n;
      } else {
        EXPECT_EQ(static_cast<uint64_t>(sqlite3_column_int64(st, 6)), f.module_offset)
            << stack << " " << n;
      }
      EXPECT_EQ(sqlite3_column_int(st, 7) != 0, f.inlined) << stack << " " << n;
      ++n;
    }
    EXPECT_EQ(n, want->size()) << stack;
  }
  // The event whose stack id has no frames: one merged stack, depth 0, no frames.
  sqlite3_reset(st);
  sqlite3_bind_int64(st, 1, kNoSuchStack);
  ASSERT_EQ(sqlite3_step(st), SQLITE_ROW);
  EXPECT_EQ(sqlite3_column_int64(st, 0), 0);
  EXPECT_EQ(sqlite3_column_type(st, 1), SQLITE_NULL);
  EXPECT_EQ(sqlite3_step(st), SQLITE_DONE);
  sqlite3_finalize(st);
  // Ids number the distinct pairs in stack order: a, c, then the unknown stack.
  EXPECT_EQ((*r)->count_rows("merged_stack").value_or(-1), 3);
  sqlite3_stmt* ids = nullptr;
  ASSERT_EQ(sqlite3_prepare_v2((*r)->db(), "SELECT stack_id FROM merged_stack ORDER BY id", -1,
                               &ids, nullptr),
            SQLITE_OK);
  std::vector<int64_t> order;
  while (sqlite3_step(ids) == SQLITE_ROW) order.push_back(sqlite3_column_int64(ids, 0));
  sqlite3_finalize(ids);
  EXPECT_EQ(order, (std::vector<int64_t>{a, c, kNoSuchStack}));
}

TEST_F(SymbolizeStackSymbolsTest, PythonFramesAreMergedWhenTheTraceHasThem) {
  add_python_stack(db_);
  auto r = store::Reader::open(db_);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  EXPECT_EQ(s.python_stack_column("cuda_call"), "py_stack_id");
  auto agg = aggregate_stacks((*r)->db(), s, {});
  ASSERT_TRUE(agg.ok()) << agg.error();
  ASSERT_EQ(agg->stacks.size(), 1u);
  const auto& f = agg->stacks[0].frames;
  // No eval-loop frame natively: the Python frames follow the native frames up to the
  // unmapped one.
  ASSERT_EQ(f.size(), 4u);
  EXPECT_EQ(f[1].function, "causeway::symbolize::stack_probe::issue_call()");
  EXPECT_EQ(f[2].function, "step");
  EXPECT_EQ(f[2].kind, FrameKind::kPythonAppended);
  EXPECT_EQ(f[3].line, 44);
}

// The cache is keyed by the looked-up address: pc for an innermost frame, pc - 1 for a return
// address. The same captured address as frame 0 of one stack and as frame 1 of another is two
// lookups (the call's line vs the next instruction's), and an innermost A and a return
// address A + 1 share one lookup but must each show their own captured pc.
TEST(SymbolizeStackSymbolsCache, InnermostAndReturnAddressesDoNotShareResults) {
  TempDir dir;
  const std::string db = dir.file("cache.db");
  auto w = trace_of_this_process(db);
  ASSERT_TRUE(w);
  store::Writer& wr = *w;
  const uint64_t ret = stack_probe::issue_call();  // return address inside issue_call
  const uint64_t entry = reinterpret_cast<uint64_t>(&stack_probe::return_address);
  // Looked up first: `ret` as an innermost frame, and 0x20 (unmapped) as one.
  const uint64_t first[] = {ret};
  const uint64_t unmapped_first[] = {0x20};
  // Then `ret` as a return address, and 0x21 as a return address (looked up as 0x20).
  const uint64_t second[] = {entry, ret};
  const uint64_t unmapped_second[] = {entry, 0x21};
  const int64_t s_first = wr.intern_stack(kPid, first);
  const int64_t s_unmapped_first = wr.intern_stack(kPid, unmapped_first);
  const int64_t s_second = wr.intern_stack(kPid, second);
  const int64_t s_unmapped_second = wr.intern_stack(kPid, unmapped_second);
  ASSERT_TRUE(wr.close().ok());

  auto r = store::Reader::open(db);
  ASSERT_TRUE(r.ok());
  StackSymbolizer s((*r)->db());
  for (int64_t id : {s_first, s_unmapped_first}) ASSERT_TRUE(s.native(id).ok());
  auto as_caller = s.native(s_second);
  ASSERT_TRUE(as_caller.ok());
  ASSERT_EQ(as_caller->size(), 2u);
  EXPECT_EQ((*as_caller)[1].function, "causeway::symbolize::stack_probe::issue_call()");
  EXPECT_EQ((*as_caller)[1].line, marker_line("LINE_ISSUE_CALL"));
  EXPECT_EQ((*as_caller)[1].pc, ret);
  auto unmapped = s.native(s_unmapped_second);
  ASSERT_TRUE(unmapped.ok());
  ASSERT_EQ(unmapped->size(), 2u);
  EXPECT_EQ((*unmapped)[1].kind, FrameKind::kNoMapping);
  EXPECT_EQ((*unmapped)[1].pc, 0x21u) << "the cached result of 0x20 leaked its pc";
  auto innermost = s.native(s_unmapped_first);
  ASSERT_TRUE(innermost.ok());
  ASSERT_EQ(innermost->size(), 1u);
  EXPECT_EQ((*innermost)[0].pc, 0x20u);
}

}  // namespace
}  // namespace causeway::symbolize
