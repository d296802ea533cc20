// Synthetic raw events through the decoder and WriterSink into a real trace database: the
// capture -> store contract, end to end, without root.
#include <gtest/gtest.h>
#include <sqlite3.h>

#include <cstring>

#include "capture/cuda_functions.h"
#include "capture/decoder.h"
#include "capture/event_source.h"
#include "capture/row_sink.h"
#include "store/reader.h"
#include "store/writer.h"
#include "support/test_support.h"

namespace causeway::capture {
namespace {

std::string query(sqlite3* db, const std::string& sql) {
  sqlite3_stmt* st = nullptr;
  if (sqlite3_prepare_v2(db, sql.c_str(), -1, &st, nullptr) != SQLITE_OK)
    return "error: " + std::string(sqlite3_errmsg(db));
  std::string out;
  while (sqlite3_step(st) == SQLITE_ROW) {
    if (!out.empty()) out += "\n";
    for (int i = 0; i < sqlite3_column_count(st); i++) {
      if (i) out += "|";
      const unsigned char* t = sqlite3_column_text(st, i);
      out += t ? reinterpret_cast<const char*>(t) : "";
    }
  }
  sqlite3_finalize(st);
  return out;
}

cw_header header(uint16_t kind, uint64_t ts, uint32_t pid, uint32_t tid, uint32_t cpu = 0) {
  cw_header h{};
  h.kind = kind;
  h.ts_ns = ts;
  h.pid = pid;
  h.tid = tid;
  h.cpu = cpu;
  return h;
}

TEST(CaptureRowSink, DecodedEventsLandInTheTraceDatabase) {
  testing::TempDir dir;
  const std::string path = dir.file("t.db");
  const int64_t origin = 1'000'000;
  {
    store::WriterOptions wo;
    wo.origin_ns = origin;
    auto writer = store::Writer::create(path, wo);
    ASSERT_TRUE(writer.ok()) << writer.error();
    WriterSink sink(*writer.value());
    DecoderOptions o;
    o.start_ns = origin;
    o.recorded_syscalls = default_syscalls();
    Decoder decoder(sink, CudaFunctionTable::builtin(), o);
    decoder.traced_from_start(100);  // running when tracing began
    SyntheticSource source;

    // Thread 101 of process 100 ("trainer") blocks in futex, is woken by an untraced
    // "logger" (pid 300), and calls cudaStreamSynchronize.
    cw_sched_switch out{};
    out.h = header(CW_EV_SCHED_SWITCH, origin + 1000, 100, 101, 1);
    out.next_pid = 0;
    out.next_tid = 0;
    out.prev_state = 1;
    out.prev_traced = 1;
    out.syscall_nr = 202;
    out.syscall_ts = origin + 900;
    std::strcpy(out.prev_comm, "trainer");
    std::strcpy(out.next_comm, "swapper/1");
    source.push_event(out, sizeof(out) - sizeof(out.stack));
    cw_wakeup wake{};
    wake.h = header(CW_EV_WAKEUP, origin + 3000, 300, 300, 0);
    wake.wakee_pid = 100;
    wake.wakee_tid = 101;
    wake.target_cpu = 1;
    std::strcpy(wake.waker_comm, "logger");
    std::strcpy(wake.wakee_comm, "trainer");
    source.push_event(wake);
    cw_sched_switch in{};
    in.h = header(CW_EV_SCHED_SWITCH, origin + 3500, 0, 0, 1);
    in.next_pid = 100;
    in.next_tid = 101;
    in.next_traced = 1;
    in.syscall_nr = -1;
    std::strcpy(in.prev_comm, "swapper/1");
    std::strcpy(in.next_comm, "trainer");
    source.push_event(in, sizeof(in) - sizeof(in.stack));
    cw_syscall sc{};
    sc.h = header(CW_EV_SYSCALL, origin + 900, 100, 101);
    sc.dur_ns = 2700;
    sc.nr = 202;
    sc.args[0] = 0x5000;
    sc.args[1] = 0x80;  // FUTEX_WAIT_PRIVATE
    source.push_event(sc);
    cw_cuda_call call{};
    call.h = header(CW_EV_CUDA_CALL, origin + 4000, 100, 101);
    call.dur_ns = 500;
    call.func_id = CudaFunctionTable::builtin().by_name("cudaStreamSynchronize")->id;
    call.args[0] = 0x42;
    call.stack_depth = 2;
    call.stack[0] = 0x7f0000001000;
    call.stack[1] = 0x400100;
    source.push_event(call, sizeof(call) - sizeof(call.stack) + 16);

    auto n = source.poll(0, [&](std::span<const uint8_t> rec) { return decoder.ingest(rec).ok(); });
    ASSERT_TRUE(n.ok());
    ASSERT_EQ(n.value(), 5);
    ASSERT_TRUE(decoder.finish(origin + 5000).ok());
    ASSERT_TRUE(writer.value()->close().ok());
  }
  auto reader = store::Reader::open(path);
  ASSERT_TRUE(reader.ok()) << reader.error();
  sqlite3* db = reader.value()->db();
  EXPECT_EQ(query(db, "SELECT function, ts, dur, stream, tid FROM cuda_calls"),
            "cudaStreamSynchronize|4000|500|66|101");
  EXPECT_EQ(query(db, "SELECT name, ts, dur, addr, op FROM syscalls"), "futex|900|2700|20480|128");
  EXPECT_EQ(
      query(db,
            "SELECT state, ts, dur, syscall, waker_name, waker_pid FROM thread_states ORDER BY ts"),
      "running|0|1000|||\nsleeping|1000|2000|futex|logger|300\nrunnable|3000|500|futex||\nrunning|"
      "3500|1500|||");
  EXPECT_EQ(
      query(db, "SELECT count(*) FROM thread_states t JOIN syscalls s ON t.syscall_id = s.id"),
      "2");
  EXPECT_EQ(query(db, "SELECT name, traced FROM threads ORDER BY tid"), "trainer|1\nlogger|0");
  EXPECT_EQ(query(db, "SELECT count(*) FROM stack_frame"), "2");
}

}  // namespace
}  // namespace causeway::capture
