// The ingest stage without root: synthetic raw events (the wire format of
// include/causeway/abi/events.h) in, store rows out, through the EventSource interface.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <tuple>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/decoder.h"
#include "capture/event_source.h"

namespace causeway::capture {
namespace {

using store::ThreadState;

// Keeps every row and note in memory.
class RecordingSink final : public RowSink {
 public:
  store::StringId intern(std::string_view s) override {
    auto it = strings.find(std::string(s));
    if (it != strings.end()) return it->second;
    store::StringId id = static_cast<store::StringId>(strings.size()) + 1;
    strings.emplace(std::string(s), id);
    return id;
  }
  std::string str(store::StringId id) const {
    for (const auto& [s, i] : strings) {
      if (i == id) return s;
    }
    return "";
  }
  store::StackId intern_stack(int32_t, std::span<const uint64_t> frames) override {
    stacks.emplace_back(frames.begin(), frames.end());
    return static_cast<store::StackId>(stacks.size());
  }
  Result<store::RowId> add(const store::CudaCallRow& r) override { return push(cuda, r); }
  Result<store::RowId> add(const store::ThreadStateRow& r) override { return push(states, r); }
  Result<store::RowId> add(const store::WakeupRow& r) override { return push(wakeups, r); }
  Result<store::RowId> add(const store::CpuSliceRow& r) override { return push(slices, r); }
  Result<store::RowId> add(const store::SyscallRow& r) override { return push(syscalls, r); }
  Result<store::RowId> add(const store::BlockIoRow& r) override { return push(block, r); }
  Result<store::RowId> add(const store::ProcessEventRow& r) override { return push(proc, r); }
  Status note_thread(const store::ThreadInfo& info) override {
    threads[info.tid] = info;
    return Status::Ok();
  }
  Status note_process(const store::ProcessInfo& info) override {
    processes[info.pid] = info;
    return Status::Ok();
  }
  Status note_mapping(const store::MappingInfo&) override { return Status::Ok(); }

  std::map<std::string, store::StringId> strings;
  std::vector<std::vector<uint64_t>> stacks;
  std::vector<store::CudaCallRow> cuda;
  std::vector<store::ThreadStateRow> states;
  std::vector<store::WakeupRow> wakeups;
  std::vector<store::CpuSliceRow> slices;
  std::vector<store::SyscallRow> syscalls;
  std::vector<store::BlockIoRow> block;
  std::vector<store::ProcessEventRow> proc;
  std::map<int32_t, store::ThreadInfo> threads;
  std::map<int32_t, store::ProcessInfo> processes;
  bool fail = false;

 private:
  template <typename T>
  Result<store::RowId> push(std::vector<T>& v, const T& row) {
    if (fail) return Status::Error("disk full");
    v.push_back(row);
    return static_cast<store::RowId>(1000 + v.size());
  }
};

cw_header header(uint16_t kind, uint64_t ts, uint32_t pid, uint32_t tid, uint32_t cpu = 0) {
  cw_header h{};
  h.kind = kind;
  h.ts_ns = ts;
  h.pid = pid;
  h.tid = tid;
  h.cpu = cpu;
  return h;
}

void set_comm(char* dst, const char* comm) {
  std::strncpy(dst, comm, CW_COMM_LEN - 1);
}

cw_sched_switch switch_event(uint64_t ts, uint32_t cpu, uint32_t prev_pid, uint32_t prev_tid,
                             const char* prev_comm, bool prev_traced, uint32_t state, bool preempt,
                             uint32_t next_pid, uint32_t next_tid, const char* next_comm,
                             bool next_traced) {
  cw_sched_switch e{};
  e.h = header(CW_EV_SCHED_SWITCH, ts, prev_pid, prev_tid, cpu);
  e.next_pid = next_pid;
  e.next_tid = next_tid;
  e.prev_state = state;
  e.preempt = preempt;
  e.prev_traced = prev_traced;
  e.next_traced = next_traced;
  e.syscall_nr = -1;
  set_comm(e.prev_comm, prev_comm);
  set_comm(e.next_comm, next_comm);
  return e;
}

// A switch numbered `seq` among the switches of its CPU.
cw_sched_switch numbered(cw_sched_switch e, uint64_t seq) {
  e.cpu_seq = seq;
  return e;
}

size_t switch_size(const cw_sched_switch& e) {
  return sizeof(e) - sizeof(e.stack) + 8 * e.stack_depth;
}

cw_cuda_call cuda_event(const char* name, uint64_t ts, uint64_t dur, uint32_t pid, uint32_t tid) {
  const CudaFunction* fn = CudaFunctionTable::builtin().by_name(name);
  EXPECT_NE(fn, nullptr) << name;
  cw_cuda_call e{};
  e.h = header(CW_EV_CUDA_CALL, ts, pid, tid);
  e.dur_ns = dur;
  e.func_id = fn ? fn->id : 0;
  return e;
}

struct CaptureDecoder : ::testing::Test {
  RecordingSink sink;
  SyntheticSource source;
  std::unique_ptr<Decoder> decoder;
  std::vector<int32_t> lib_loads;

  void SetUp() override { make_decoder(0); }
  void make_decoder(int64_t start_ns) {
    DecoderOptions o;
    o.start_ns = start_ns;
    o.recorded_syscalls = default_syscalls();
    DecoderHooks hooks;
    hooks.on_lib_load = [this](int32_t pid, bool) { lib_loads.push_back(pid); };
    decoder = std::make_unique<Decoder>(sink, CudaFunctionTable::builtin(), o, hooks);
  }
  void run(int64_t end_ns) {
    auto n =
        source.poll(0, [this](std::span<const uint8_t> rec) { return decoder->ingest(rec).ok(); });
    ASSERT_TRUE(n.ok());
    ASSERT_TRUE(decoder->finish(end_ns).ok());
  }
};

TEST(CaptureCudaFunctions, EveryBaseHasVariantsWithUniqueIdsAndCookieFlags) {
  const auto& t = CudaFunctionTable::builtin();
  ASSERT_GT(t.functions().size(), 100u);
  for (size_t i = 0; i < t.functions().size(); i++) EXPECT_EQ(t.functions()[i].id, i);
  EXPECT_LT(t.functions().size(), size_t{CW_CUDA_FUNC_MASK});
  for (const char* name :
       {"cudaMemcpyAsync_ptsz", "cuMemcpyHtoD_v2", "cuMemAlloc_v2", "cudaLaunchKernelExC",
        "cuLaunchKernelEx", "cuMemAllocAsync", "cuMemFreeAsync", "cuGraphLaunch",
        "cuEventSynchronize", "cudaMemcpy2DAsync", "cudaMemcpyPeerAsync", "cudaMemcpy_ptds"}) {
    EXPECT_NE(t.by_name(name), nullptr) << name;
  }
  EXPECT_EQ(t.by_name("cudaMalloc")->cookie_flags, CW_CUDA_F_OUT0);
  EXPECT_EQ(t.by_name("cudaLaunchKernel")->cookie_flags, CW_CUDA_F_STACK_ARGS);
  EXPECT_EQ(t.by_name("cudaLaunchKernelExC")->cookie_flags, CW_CUDA_F_ARG0_MEM);
  EXPECT_EQ(t.by_name("nonexistent"), nullptr);
}

TEST_F(CaptureDecoder, CudaCallsCarryDecodedArgumentsAndStacks) {
  auto copy = cuda_event("cudaMemcpyAsync", 100, 50, 10, 11);
  copy.args[0] = 0x7000;  // dst (device)
  copy.args[1] = 0x1000;  // src (host)
  copy.args[2] = 4096;
  copy.args[3] = 1;  // HostToDevice
  copy.args[4] = 0xabc;
  copy.stack_depth = 2;
  copy.stack[0] = 0x401000;
  copy.stack[1] = 0x402000;
  copy.ret = 0;
  source.push_event(copy, sizeof(copy) - sizeof(copy.stack) + 16);

  auto launch = cuda_event("cudaLaunchKernel_ptsz", 200, 5, 10, 11);
  launch.args[0] = 0x55aa;                     // kernel host function
  launch.args[1] = (uint64_t{2} << 32) | 64;   // grid {64, 2}
  launch.args[2] = 3;                          // grid z
  launch.args[3] = (uint64_t{1} << 32) | 256;  // block {256, 1}
  launch.args[4] = 1;                          // block z
  launch.stack_args[1] = 0xdef;                // stream (8th argument)
  launch.valid = CW_CUDA_V_STACK_ARGS;
  source.push_event(launch, sizeof(launch) - sizeof(launch.stack));

  auto alloc = cuda_event("cuMemAlloc_v2", 300, 7, 10, 12);
  alloc.args[0] = 0x7fff0000;
  alloc.args[1] = 1 << 20;
  alloc.out0 = 0xd000000;
  alloc.valid = CW_CUDA_V_OUT0;
  alloc.ret = 2;
  source.push_event(alloc, sizeof(alloc) - sizeof(alloc.stack));

  auto exc = cuda_event("cudaLaunchKernelExC", 400, 9, 10, 11);
  exc.args[1] = 0x77;
  // cudaLaunchConfig_t: grid {8,4,2} block {32,16,1} smem 0 stream 0x99
  exc.arg0_mem[0] = (uint64_t{4} << 32) | 8;
  exc.arg0_mem[1] = (uint64_t{32} << 32) | 2;
  exc.arg0_mem[2] = (uint64_t{1} << 32) | 16;
  exc.arg0_mem[4] = 0x99;
  exc.valid = CW_CUDA_V_ARG0_MEM;
  source.push_event(exc, sizeof(exc) - sizeof(exc.stack));
  run(1000);

  ASSERT_EQ(sink.cuda.size(), 4u);
  const auto& c = sink.cuda[0];
  EXPECT_EQ(sink.str(c.function), "cudaMemcpyAsync");
  EXPECT_EQ(c.ts_ns, 100);
  EXPECT_EQ(c.dur_ns, 50);
  EXPECT_EQ(c.pid, 10);
  EXPECT_EQ(c.tid, 11);
  EXPECT_EQ(c.bytes, 4096);
  EXPECT_EQ(c.copy_kind, 1);
  EXPECT_EQ(c.device_ptr, 0x7000u);
  EXPECT_EQ(c.host_ptr, 0x1000u);
  EXPECT_EQ(c.stream, 0xabcu);
  ASSERT_NE(c.stack, 0);
  EXPECT_EQ(sink.stacks[static_cast<size_t>(c.stack - 1)],
            (std::vector<uint64_t>{0x401000, 0x402000}));

  const auto& l = sink.cuda[1];
  EXPECT_EQ(sink.str(l.function), "cudaLaunchKernel_ptsz");
  EXPECT_EQ(l.kernel_addr, 0x55aau);
  EXPECT_EQ(l.grid[0], 64u);
  EXPECT_EQ(l.grid[1], 2u);
  EXPECT_EQ(l.grid[2], 3u);
  EXPECT_EQ(l.block[0], 256u);
  EXPECT_EQ(l.block[1], 1u);
  EXPECT_EQ(l.block[2], 1u);
  EXPECT_EQ(l.stream, 0xdefu);
  EXPECT_EQ(l.stack, 0);

  const auto& a = sink.cuda[2];
  EXPECT_EQ(sink.str(a.function), "cuMemAlloc_v2");
  EXPECT_EQ(a.ret, 2);
  EXPECT_EQ(a.bytes, 1 << 20);
  EXPECT_EQ(a.device_ptr, 0xd000000u);

  const auto& x = sink.cuda[3];
  EXPECT_EQ(x.kernel_addr, 0x77u);
  EXPECT_EQ((std::vector<uint32_t>{x.grid[0], x.grid[1], x.grid[2]}),
            (std::vector<uint32_t>{8, 4, 2}));
  EXPECT_EQ((std::vector<uint32_t>{x.block[0], x.block[1], x.block[2]}),
            (std::vector<uint32_t>{32, 16, 1}));
  EXPECT_EQ(x.stream, 0x99u);
  EXPECT_TRUE(sink.threads.count(11) && sink.threads[11].traced);
  EXPECT_TRUE(sink.processes.count(10) && sink.processes[10].traced);
}

TEST_F(CaptureDecoder, BlockedIntervalIsSplitAtTheWakeupAndLinkedToWakerAndSyscall) {
  // Thread 11 of traced process 10 runs, blocks in read() on CPU 1, an untraced kworker
  // wakes it, it waits for the CPU, runs again, and the read returns.
  source.push_event(
      switch_event(1000, 1, 0, 0, "swapper/1", false, 0, false, 10, 11, "loader", true),
      sizeof(cw_sched_switch) - sizeof(cw_sched_switch::stack));
  auto out =
      switch_event(2000, 1, 10, 11, "loader", true, 2 /* D */, false, 0, 0, "swapper/1", false);
  out.syscall_nr = 17;  // pread64
  out.syscall_ts = 1900;
  out.stack_depth = 1;
  out.stack[0] = 0x4010;
  source.push_event(out, switch_size(out));
  cw_wakeup wake{};
  wake.h = header(CW_EV_WAKEUP, 5000, 77, 78, 0);
  wake.wakee_pid = 10;
  wake.wakee_tid = 11;
  wake.target_cpu = 1;
  set_comm(wake.waker_comm, "kworker/0:1");
  set_comm(wake.wakee_comm, "loader");
  source.push_event(wake);
  source.push_event(
      switch_event(6000, 1, 0, 0, "swapper/1", false, 0, false, 10, 11, "loader", true),
      sizeof(cw_sched_switch) - sizeof(cw_sched_switch::stack));
  cw_syscall sc{};
  sc.h = header(CW_EV_SYSCALL, 1900, 10, 11);
  sc.dur_ns = 4300;
  sc.nr = 17;
  sc.ret = 4096;
  sc.args[0] = 5;
  sc.args[2] = 4096;
  source.push_event(sc);
  run(7000);

  ASSERT_EQ(sink.syscalls.size(), 1u);
  EXPECT_EQ(sink.str(sink.syscalls[0].name), "pread64");
  EXPECT_EQ(sink.syscalls[0].fd, 5);
  EXPECT_EQ(sink.syscalls[0].bytes, 4096);
  EXPECT_EQ(sink.syscalls[0].dur_ns, 4300);
  const store::RowId syscall_row = 1001;

  ASSERT_EQ(sink.wakeups.size(), 1u);
  EXPECT_EQ(sink.wakeups[0].waker_tid, 78);
  EXPECT_EQ(sink.threads[78].comm, "kworker/0:1");
  EXPECT_FALSE(sink.threads[78].traced);

  // running [1000,2000], D [2000,5000] woken by 78, runnable [5000,6000], running [6000,7000]
  ASSERT_EQ(sink.states.size(), 4u);
  std::map<int64_t, store::ThreadStateRow> by_ts;
  for (const auto& s : sink.states) by_ts[s.ts_ns] = s;
  EXPECT_EQ(by_ts[1000].state, ThreadState::kRunning);
  EXPECT_EQ(by_ts[1000].dur_ns, 1000);
  EXPECT_EQ(by_ts[1000].cpu, 1);
  const auto& blocked = by_ts[2000];
  EXPECT_EQ(blocked.state, ThreadState::kUninterruptible);
  EXPECT_EQ(blocked.dur_ns, 3000);
  EXPECT_EQ(blocked.kernel_state, 2);
  EXPECT_EQ(blocked.syscall_nr, 17);
  EXPECT_EQ(blocked.syscall_row, syscall_row);
  EXPECT_EQ(blocked.waker_pid, 77);
  EXPECT_EQ(blocked.waker_tid, 78);
  EXPECT_NE(blocked.stack, 0);
  const auto& wait = by_ts[5000];
  EXPECT_EQ(wait.state, ThreadState::kRunnable);
  EXPECT_EQ(wait.dur_ns, 1000);
  EXPECT_EQ(wait.syscall_row, syscall_row);
  EXPECT_FALSE(wait.preempter_tid.has_value());
  EXPECT_EQ(by_ts[6000].state, ThreadState::kRunning);
  EXPECT_EQ(by_ts[6000].dur_ns, 1000);
}

TEST_F(CaptureDecoder, PreemptionRecordsTheTaskThatTookTheCpu) {
  make_decoder(500);  // tracing started at 500: the thread was already running
  decoder->traced_from_start(10);
  source.push_event(switch_event(1000, 0, 10, 11, "train", true, 0, true, 20, 20, "backup", false),
                    sizeof(cw_sched_switch) - sizeof(cw_sched_switch::stack));
  source.push_event(switch_event(4000, 0, 20, 20, "backup", false, 0, true, 10, 11, "train", true),
                    sizeof(cw_sched_switch) - sizeof(cw_sched_switch::stack));
  run(4500);
  ASSERT_EQ(sink.states.size(), 3u);
  EXPECT_EQ(sink.states[0].state, ThreadState::kRunning);
  EXPECT_EQ(sink.states[0].ts_ns, 500);
  EXPECT_EQ(sink.states[0].dur_ns, 500);
  EXPECT_EQ(sink.states[1].state, ThreadState::kRunnable);
  EXPECT_EQ(sink.states[1].ts_ns, 1000);
  EXPECT_EQ(sink.states[1].dur_ns, 3000);
  EXPECT_EQ(sink.states[1].preempter_pid, 20);
  EXPECT_EQ(sink.states[1].preempter_tid, 20);
  EXPECT_EQ(sink.states[2].state, ThreadState::kRunning);
  EXPECT_EQ(sink.states[2].dur_ns, 500);
  EXPECT_EQ(sink.threads[20].comm, "backup");
  EXPECT_FALSE(sink.threads[20].traced);
  EXPECT_EQ(sink.processes[20].name, "backup");
  EXPECT_FALSE(sink.processes[20].traced);
}

TEST_F(CaptureDecoder, ProcessLifecycleBecomesProcessEvents) {
  cw_fork fork{};
  fork.h = header(CW_EV_FORK, 100, 10, 10);
  fork.child_pid = 30;
  fork.child_tid = 30;
  set_comm(fork.parent_comm, "launcher");
  set_comm(fork.child_comm, "launcher");
  source.push_event(fork);
  cw_fork thread{};
  thread.h = header(CW_EV_FORK, 150, 10, 10);
  thread.child_pid = 10;
  thread.child_tid = 12;
  set_comm(thread.child_comm, "worker");
  source.push_event(thread);
  cw_exec exec{};
  exec.h = header(CW_EV_EXEC, 200, 30, 30);
  exec.old_tid = 30;
  set_comm(exec.comm, "python3");
  std::strcpy(exec.filename, "/usr/bin/python3");
  source.push_event(exec);
  cw_exit ex{};
  ex.h = header(CW_EV_EXIT, 900, 30, 30);
  ex.exit_code = 3 << 8;
  ex.group_dead = 1;
  set_comm(ex.comm, "python3");
  source.push_event(ex);
  cw_lib_load load{};
  load.h = header(CW_EV_LIB_LOAD, 950, 10, 10);
  load.stopped = 1;
  source.push_event(load);
  run(1000);

  ASSERT_EQ(sink.proc.size(), 3u);  // fork of a process (not of a thread), exec, exit
  EXPECT_EQ(sink.proc[0].kind, store::ProcessEventKind::kFork);
  EXPECT_EQ(sink.proc[0].pid, 10);
  EXPECT_EQ(sink.proc[0].other_pid, 30);
  EXPECT_EQ(sink.proc[1].kind, store::ProcessEventKind::kExec);
  EXPECT_EQ(sink.str(sink.proc[1].filename), "/usr/bin/python3");
  EXPECT_EQ(sink.proc[2].kind, store::ProcessEventKind::kExit);
  EXPECT_EQ(sink.proc[2].exit_code, 3 << 8);
  EXPECT_EQ(sink.processes[30].ppid, 10);
  EXPECT_EQ(sink.processes[30].name, "python3");
  EXPECT_EQ(sink.processes[30].exit_code, 3 << 8);
  EXPECT_EQ(sink.processes[30].end_ts_ns, 900);
  EXPECT_EQ(sink.threads[12].comm, "worker");
  EXPECT_EQ(sink.threads[12].start_ts_ns, 150);
  EXPECT_EQ(lib_loads, std::vector<int32_t>{10});
}

TEST_F(CaptureDecoder, BlockIoTimingsAndDirection) {
  cw_block_io io{};
  io.h = header(CW_EV_BLOCK_IO, 1000, 10, 11);
  io.insert_ts = 1000;
  io.issue_ts = 1500;
  io.complete_ts = 4000;
  io.sector = 2048;
  io.bytes = 65536;
  io.dev = (8u << 20) | 1;
  io.cmd_flags = 1;  // REQ_OP_WRITE
  source.push_event(io);
  run(5000);
  ASSERT_EQ(sink.block.size(), 1u);
  const auto& b = sink.block[0];
  EXPECT_EQ(b.ts_ns, 1000);
  EXPECT_EQ(b.dur_ns, 3000);
  EXPECT_EQ(b.queue_ns, 500);
  EXPECT_EQ(b.service_ns, 2500);
  EXPECT_EQ(b.op, 'W');
  EXPECT_EQ(b.bytes, 65536);
  EXPECT_EQ(b.dev, (8u << 20) | 1);
  EXPECT_EQ(b.sector, 2048u);
}

TEST_F(CaptureDecoder, MalformedRecordsAreCountedAndSkipped) {
  uint8_t tiny[4] = {1, 0, 0, 0};
  source.push(tiny);
  cw_header unknown = header(999, 1, 1, 1);
  source.push_event(unknown);
  auto truncated = cuda_event("cudaMalloc", 1, 1, 1, 1);
  source.push_event(truncated, 40);
  run(10);
  EXPECT_EQ(decoder->counts().malformed, 3);
  EXPECT_TRUE(sink.cuda.empty());
}

// Found by fuzz/fuzz_decoder.cpp: a block I/O record whose times are near 2^63 made the
// duration's subtraction overflow (undefined behaviour); any time beyond 2^61 ns now makes the
// record malformed, so no difference or sum of times in the decoder can overflow.
TEST_F(CaptureDecoder, ImpossibleTimesMakeARecordMalformed) {
  const uint64_t huge = (uint64_t{1} << 63) + 12345;
  cw_block_io io{};
  io.h = header(CW_EV_BLOCK_IO, huge, 10, 11);
  io.complete_ts = 7954764325393203199ULL;
  source.push_event(io);
  auto call = cuda_event("cudaFree", 100, ~uint64_t{0}, 10, 11);
  source.push_event(call, sizeof(call) - sizeof(call.stack));
  auto sw = switch_event(200, 0, 10, 11, "decode", true, 1, false, 0, 0, "swapper", false);
  sw.syscall_nr = 202;
  sw.syscall_ts = huge;
  source.push_event(sw, switch_size(sw));
  cw_syscall sc{};
  sc.h = header(CW_EV_SYSCALL, 300, 10, 11);
  sc.nr = 202;
  sc.dur_ns = huge;
  source.push_event(sc);
  cw_wakeup wk{};
  wk.h = header(CW_EV_WAKEUP, 400, 0, 0);
  wk.wakee_pid = 10;
  wk.wakee_tid = 11;
  wk.waking_ts = huge;
  source.push_event(wk);
  // A time of exactly 2^61 ns is still accepted.
  auto edge = cuda_event("cudaFree", uint64_t{1} << 61, 1, 10, 11);
  source.push_event(edge, sizeof(edge) - sizeof(edge.stack));
  run(500);
  EXPECT_EQ(decoder->counts().malformed, 5);
  EXPECT_TRUE(sink.block.empty());
  EXPECT_TRUE(sink.syscalls.empty());
  EXPECT_TRUE(sink.wakeups.empty());
  ASSERT_EQ(sink.cuda.size(), 1u);
  EXPECT_EQ(sink.cuda[0].ts_ns, int64_t{1} << 61);
}

// Found by fuzz/fuzz_decoder.cpp (under UBSan): cuMemsetD32's byte count was a signed
// multiply of the raw count, undefined for a garbage count; it now wraps like the other
// products of raw arguments (2D copies). The regression input is
// fuzz/corpus/decoder/regression-memset-bytes-overflow, run by the fuzz ctest tests.
TEST_F(CaptureDecoder, MemsetBytesAreCountTimesWidth) {
  auto ok = cuda_event("cuMemsetD32", 100, 5, 10, 11);
  ok.args[2] = 10;
  source.push_event(ok, sizeof(ok) - sizeof(ok.stack));
  auto garbage = cuda_event("cuMemsetD32", 200, 5, 10, 11);
  garbage.args[2] = (uint64_t{1} << 62) + 1;
  source.push_event(garbage, sizeof(garbage) - sizeof(garbage.stack));
  run(500);
  ASSERT_EQ(sink.cuda.size(), 2u);
  EXPECT_EQ(sink.cuda[0].bytes, 40);
  EXPECT_EQ(sink.cuda[1].bytes, 4);  // 4 * (2^62 + 1) mod 2^64
}

TEST_F(CaptureDecoder, SinkFailureStopsIngest) {
  sink.fail = true;
  auto call = cuda_event("cudaFree", 1, 1, 1, 1);
  Status s = decoder->ingest(
      std::span<const uint8_t>(reinterpret_cast<const uint8_t*>(&call), sizeof(call)));
  EXPECT_FALSE(s.ok());
  EXPECT_EQ(s.message(), "disk full");
}

TEST(CaptureSyscalls, NamesOfTheRecordedSet) {
  EXPECT_EQ(syscall_name(202), "futex");
  EXPECT_EQ(syscall_name(75), "fdatasync");
  EXPECT_EQ(syscall_name(9999), "");
  for (int32_t nr : default_syscalls()) EXPECT_FALSE(syscall_name(nr).empty());
}

// The whole x86_64 table comes from the kernel headers at build time, in number order, so
// syscalls outside the recorded set (e.g. one a thread blocked in) have names too.
TEST(CaptureSyscalls, TheWholeTableIsGeneratedFromTheKernelHeaders) {
  EXPECT_EQ(syscall_name(0), "read");
  EXPECT_EQ(syscall_name(59), "execve");
  EXPECT_EQ(syscall_name(230), "clock_nanosleep");
  EXPECT_EQ(syscall_name(435), "clone3");
  EXPECT_EQ(syscall_name(-1), "");
  int n = 0;
  int32_t last = -1;
  bool ordered = true;
  for_each_syscall([&](int32_t nr, std::string_view name) {
    ordered &= nr > last && !name.empty();
    last = nr;
    n++;
  });
  EXPECT_GT(n, 330);
  EXPECT_TRUE(ordered);
  // The default recorded set is numbered from the table: every name resolved.
  EXPECT_EQ(default_syscalls().size(), 32u);
}

}  // namespace
}  // namespace causeway::capture

namespace causeway::capture {
namespace {

constexpr size_t kSwitchSize = sizeof(cw_sched_switch) - sizeof(cw_sched_switch::stack);

// Traced thread 10/11 moved from `orig` to `dest` at `ts`; `dest` was running `curr` (pid =
// tid) since its switch number `seq`.
cw_migrate migrate_event(uint64_t ts, int32_t orig, int32_t dest, uint32_t curr, uint64_t seq) {
  cw_migrate m{};
  m.h = header(CW_EV_MIGRATE, ts, 10, 11, 1);
  m.orig_cpu = orig;
  m.dest_cpu = dest;
  m.dest_curr_pid = curr;
  m.dest_curr_tid = curr;
  m.dest_seq = seq;
  return m;
}

cw_wakeup wakeup_event(uint64_t ts, uint32_t waker_pid, uint32_t waker_tid, const char* waker,
                       uint8_t ctx, uint32_t wakee_pid, uint32_t wakee_tid, int32_t cpu,
                       uint32_t curr_pid, uint32_t curr_tid, uint64_t seq) {
  cw_wakeup w{};
  w.h = header(CW_EV_WAKEUP, ts, waker_pid, waker_tid, 0);
  w.wakee_pid = wakee_pid;
  w.wakee_tid = wakee_tid;
  w.target_cpu = cpu;
  w.waker_ctx = ctx;
  w.cpu_curr_pid = curr_pid;
  w.cpu_curr_tid = curr_tid;
  w.cpu_seq = seq;
  set_comm(w.waker_comm, waker);
  set_comm(w.wakee_comm, "decode");
  return w;
}

std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>> slices_of(const RecordingSink& s) {
  std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>> out;
  for (const auto& r : s.slices) out.emplace_back(r.ts_ns, r.dur_ns, r.cpu, r.tid);
  return out;
}

// A process enrolled mid-trace (--all) whose thread's first record leaves the CPU: when it
// got the CPU is known only if that switch was recorded; otherwise no interval is invented.
TEST_F(CaptureDecoder, ALateEnrolledThreadDoesNotRunSinceTheTraceStart) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 0, 0, "swapper/0", false, 0, false, 60, 61, "job", false), 3),
      kSwitchSize);  // recorded because of cpu 0's waiter, say
  source.push_event(
      numbered(switch_event(4000, 0, 60, 61, "job", true, 1, false, 0, 0, "swapper/0", false), 4),
      kSwitchSize);
  source.push_event(
      numbered(switch_event(5000, 1, 60, 62, "job2", true, 1, false, 0, 0, "swapper/1", false), 9),
      kSwitchSize);
  run(6000);
  std::map<int32_t, std::vector<store::ThreadStateRow>> by_tid;
  for (const auto& st : sink.states) by_tid[st.tid].push_back(st);
  ASSERT_FALSE(by_tid[61].empty());
  EXPECT_EQ(by_tid[61][0].state, ThreadState::kRunning);
  EXPECT_EQ(by_tid[61][0].ts_ns, 1000);  // from the recorded switch that gave it CPU 0
  for (const auto& st : by_tid[62]) EXPECT_NE(st.state, ThreadState::kRunning);
}

// The issue's first case: the thread is preempted by a short-lived helper, then a spinner
// holds the CPU for most of the runnable interval. Who held it comes from the CPU's own
// consecutive switches, not from the task that switched in first.
TEST_F(CaptureDecoder, WhoHeldTheCpuComesFromConsecutiveSwitches) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 0, true, 10, 12, "sim-gpu", true), 41),
      kSwitchSize);
  // Neither task traced: recorded because decode waits for CPU 0.
  source.push_event(
      numbered(switch_event(1100, 0, 10, 12, "sim-gpu", true, 1, false, 30, 30, "spinner", false),
               42),
      kSwitchSize);
  source.push_event(
      numbered(switch_event(9000, 0, 30, 30, "spinner", false, 0, true, 10, 11, "decode", true),
               43),
      kSwitchSize);
  run(9500);
  EXPECT_EQ(slices_of(sink), (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{
                                 {1000, 100, 0, 12}, {1100, 7900, 0, 30}}));
  EXPECT_EQ(sink.threads[30].comm, "spinner");
  EXPECT_FALSE(sink.threads[30].traced);
  EXPECT_EQ(decoder->counts().cpu_slices, 2);
}

TEST_F(CaptureDecoder, MissedSwitchesLeaveAGapNotAGuess) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 1, 10, 11, "decode", true, 0, true, 30, 30, "spinner", false), 7),
      kSwitchSize);
  // Switches 8 and 9 were not recorded: who ran between 1000 and 5000 is not known.
  source.push_event(
      numbered(switch_event(5000, 1, 40, 40, "other", false, 0, true, 10, 11, "decode", true), 10),
      kSwitchSize);
  run(6000);
  EXPECT_TRUE(sink.slices.empty());
  EXPECT_EQ(decoder->counts().cpu_seq_gaps, 1);
}

TEST_F(CaptureDecoder, WakeupSaysWhoHeldTheWakeesCpuAndTheWakerFromItsOwnContext) {
  make_decoder(500);
  // decode blocks on CPU 1 in a futex; a logger thread of the same process wakes it from
  // CPU 0 while "cc1plus" runs on CPU 1; decode gets CPU 1 at 7000.
  auto out = switch_event(1000, 1, 10, 11, "decode", true, 1, false, 50, 50, "cc1plus", false);
  out.cpu_seq = 20;
  out.syscall_nr = 202;
  source.push_event(out, kSwitchSize);
  source.push_event(wakeup_event(4000, 10, 13, "logger", CW_WAKER_TASK, 10, 11, 1, 50, 50, 20));
  source.push_event(
      numbered(switch_event(7000, 1, 50, 50, "cc1plus", false, 0, true, 10, 11, "decode", true),
               21),
      kSwitchSize);
  run(8000);
  ASSERT_EQ(sink.wakeups.size(), 1u);
  EXPECT_EQ(sink.wakeups[0].waker_tid, 13);
  EXPECT_EQ(sink.wakeups[0].waker_context, store::WakerContext::kTask);
  std::map<int64_t, store::ThreadStateRow> by_ts;
  for (const auto& st : sink.states) by_ts[st.ts_ns] = st;
  EXPECT_EQ(by_ts[1000].waker_tid, 13);
  EXPECT_EQ(by_ts[1000].waker_context, store::WakerContext::kTask);
  EXPECT_EQ(by_ts[4000].state, ThreadState::kRunnable);
  EXPECT_EQ(by_ts[4000].cpu, 1);
  // cc1plus held CPU 1 from the switch at 1000 (switch 20) to switch 21.
  EXPECT_EQ(slices_of(sink),
            (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{{1000, 6000, 1, 50}}));
}

// A wakeup read CPU 0's switch number while switch 31 happened there, and reached user space
// before that switch's own record: it already says 31. The switch still decides who holds the
// CPU from then on, so the stretch up to switch 32 is named (a trace recorded under load had
// 2.5 ms of a runnable thread with no holder this way).
TEST_F(CaptureDecoder, ASwitchAlreadyNumberedByAWakeupStillNamesTheHolder) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 0, true, 40, 40, "kworker", false),
               30),
      kSwitchSize);
  source.push_event(wakeup_event(2000, 10, 13, "logger", CW_WAKER_TASK, 10, 14, 0, 40, 40, 31));
  source.push_event(
      numbered(switch_event(2000, 0, 40, 40, "kworker", false, 1, false, 50, 50, "cc1plus", false),
               31),
      kSwitchSize);
  source.push_event(
      numbered(switch_event(6000, 0, 50, 50, "cc1plus", false, 0, true, 10, 11, "decode", true),
               32),
      kSwitchSize);
  run(7000);
  EXPECT_EQ(slices_of(sink), (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{
                                 {1000, 1000, 0, 40}, {2000, 4000, 0, 50}}));
  EXPECT_EQ(decoder->counts().cpu_seq_gaps, 0);
}

TEST_F(CaptureDecoder, ATimerExpiryIsNotAWaker) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 1, false, 0, 0, "swapper/0", false),
               3),
      kSwitchSize);
  // The futex wait timed out: the hrtimer fired while cc1plus ran (sched_waking saw a timer).
  source.push_event(wakeup_event(6000, 0, 0, "", CW_WAKER_TIMER, 10, 11, 0, 0, 0, 3));
  source.push_event(
      numbered(switch_event(6010, 0, 0, 0, "swapper/0", false, 0, false, 10, 11, "decode", true),
               4),
      kSwitchSize);
  run(7000);
  ASSERT_EQ(sink.wakeups.size(), 1u);
  EXPECT_EQ(sink.wakeups[0].waker_tid, 0);
  EXPECT_EQ(sink.wakeups[0].waker_context, store::WakerContext::kTimer);
  std::map<int64_t, store::ThreadStateRow> by_ts;
  for (const auto& st : sink.states) by_ts[st.ts_ns] = st;
  EXPECT_FALSE(by_ts[1000].waker_tid.has_value());
  EXPECT_EQ(by_ts[1000].waker_context, store::WakerContext::kTimer);
  // Idle from the wakeup until decode ran: the wakeup latency, on record as idle.
  EXPECT_EQ(slices_of(sink),
            (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{{1000, 5010, 0, 0}}));
}

TEST_F(CaptureDecoder, AMigrationSplitsTheRunnableIntervalByQueue) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 0, true, 30, 30, "spinner", false), 5),
      kSwitchSize);
  source.push_event(migrate_event(3000, 0, 1, 40, 9));
  source.push_event(
      numbered(switch_event(4000, 1, 40, 40, "other", false, 0, true, 10, 11, "decode", true), 10),
      kSwitchSize);
  run(5000);
  std::map<int64_t, store::ThreadStateRow> by_ts;
  for (const auto& st : sink.states) by_ts[st.ts_ns] = st;
  EXPECT_EQ(by_ts[1000].state, ThreadState::kRunnable);
  EXPECT_EQ(by_ts[1000].dur_ns, 2000);
  EXPECT_EQ(by_ts[1000].cpu, 0);
  EXPECT_EQ(by_ts[3000].state, ThreadState::kRunnable);
  EXPECT_EQ(by_ts[3000].dur_ns, 1000);
  EXPECT_EQ(by_ts[3000].cpu, 1);
  EXPECT_EQ(decoder->counts().migrations, 1);
  // The spinner held CPU 0 while decode waited there (its switch away, after nobody waits for
  // CPU 0, is never recorded); "other" was seen on CPU 1 at the migration, at switch 9, and
  // kept it until switch 10.
  EXPECT_EQ(slices_of(sink), (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{
                                 {1000, 2000, 0, 30}, {3000, 1000, 1, 40}}));
}

// Woken onto CPU 0 while cc1plus runs there, then pulled to CPU 1 before it ran: no switch of
// CPU 0 is recorded in between, yet the wakeup's sighting says who held CPU 0 while it waited
// (a trace recorded under process churn had dozens of such waits with no holder).
TEST_F(CaptureDecoder, AThreadPulledAwayBeforeItRanStillNamesWhoHeldItsFirstCpu) {
  make_decoder(500);
  auto out = switch_event(1000, 1, 10, 11, "decode", true, 1, false, 0, 0, "swapper/1", false);
  out.cpu_seq = 3;
  out.syscall_nr = 202;
  source.push_event(out, kSwitchSize);
  source.push_event(wakeup_event(2000, 10, 13, "logger", CW_WAKER_TASK, 10, 11, 0, 50, 50, 70));
  source.push_event(migrate_event(2600, 0, 1, 0, 3));
  source.push_event(
      numbered(switch_event(2700, 1, 0, 0, "swapper/1", false, 0, true, 10, 11, "decode", true), 4),
      kSwitchSize);
  run(3000);
  EXPECT_EQ(slices_of(sink), (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{
                                 {2000, 600, 0, 50}, {1000, 1700, 1, 0}}));
  EXPECT_EQ(decoder->counts().cpu_seq_gaps, 0);
  EXPECT_EQ(decoder->counts().cpu_holder_breaks, 0);
}

// The migration's record (from the CPU that pulled the thread) arrived before the record of a
// switch on the old CPU that happened just before it: the stretch already cut at the
// migration covers that switch; the next one starts where it ends, without overlap, and
// nothing is counted as missed.
TEST_F(CaptureDecoder, ASwitchOlderThanTheCutIsNotAMissedSwitch) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 0, true, 30, 30, "spinner", false), 5),
      kSwitchSize);
  source.push_event(migrate_event(3000, 0, 1, 40, 9));
  source.push_event(
      numbered(switch_event(2990, 0, 30, 30, "spinner", false, 0, false, 60, 60, "kworker", false),
               6),
      kSwitchSize);
  source.push_event(
      numbered(switch_event(3500, 0, 60, 60, "kworker", false, 0, false, 30, 30, "spinner", false),
               7),
      kSwitchSize);
  source.push_event(
      numbered(switch_event(4000, 1, 40, 40, "other", false, 0, true, 10, 11, "decode", true), 10),
      kSwitchSize);
  run(5000);
  EXPECT_EQ(slices_of(sink), (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{
                                 {1000, 2000, 0, 30}, {3000, 500, 0, 60}, {3000, 1000, 1, 40}}));
  EXPECT_EQ(decoder->counts().cpu_holder_breaks, 0);
  EXPECT_EQ(decoder->counts().cpu_seq_gaps, 0);
}

TEST_F(CaptureDecoder, TheEndClosesWhoHoldsACpuATracedThreadStillWaitsFor) {
  make_decoder(500);
  source.push_event(
      numbered(switch_event(1000, 0, 10, 11, "decode", true, 0, true, 30, 30, "spinner", false), 5),
      kSwitchSize);
  run(3000);
  EXPECT_EQ(slices_of(sink),
            (std::vector<std::tuple<int64_t, int64_t, int32_t, int32_t>>{{1000, 2000, 0, 30}}));
}

}  // namespace
}  // namespace causeway::capture
