// Writes the binary seed corpora of fuzz_decoder and fuzz_trace:
//   fuzz_make_seeds DECODER_DIR TRACE_DIR   (normally fuzz/corpus/decoder fuzz/corpus/trace)
// Decoder seeds are runs of ring-buffer records built from the structs of
// include/causeway/abi/events.h, in fuzz_decoder's framing (u16 little-endian length, bytes).
// Trace seeds are the MCP fixture trace (tests/mcp/mcp_fixture.h) as recorded, with its chains
// and statistics stored, and an empty trace, each compacted to 512-byte pages so that most of
// a file is records and values, not free space.
#include <sqlite3.h>

#include <cstdio>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <string>
#include <vector>

#include "analyze/chain_store.h"
#include "capture/cuda_functions.h"
#include "causeway/abi/events.h"
#include "mcp/mcp_fixture.h"
#include "store/writer.h"

namespace {

using namespace causeway;

class Records {
 public:
  template <typename T>
  Records& add(const T& ev, size_t len = sizeof(T)) {
    bytes_.push_back(static_cast<char>(len & 0xff));
    bytes_.push_back(static_cast<char>(len >> 8));
    bytes_.append(reinterpret_cast<const char*>(&ev), len);
    return *this;
  }
  void write(const std::string& path) const {
    std::ofstream(path, std::ios::binary).write(bytes_.data(), std::streamsize(bytes_.size()));
  }

 private:
  std::string bytes_;
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

void comm(char* dst, const char* s) {
  std::strncpy(dst, s, CW_COMM_LEN - 1);
}

cw_cuda_call cuda(const char* fn, uint64_t ts, uint64_t dur, uint32_t depth) {
  cw_cuda_call e{};
  e.h = header(CW_EV_CUDA_CALL, ts, 100, 101);
  e.dur_ns = dur;
  const auto* f = capture::CudaFunctionTable::builtin().by_name(fn);
  e.func_id = f ? f->id : 0;
  e.stack_depth = depth;
  for (uint32_t i = 0; i < depth; i++) e.stack[i] = 0x401000 + 0x10 * i;
  return e;
}
size_t cuda_len(const cw_cuda_call& e) {
  return sizeof(e) - sizeof(e.stack) + 8 * e.stack_depth;
}

cw_sched_switch sw(uint64_t ts, uint32_t cpu, uint32_t prev, uint32_t state, uint32_t next,
                   uint64_t seq, int32_t syscall = -1) {
  cw_sched_switch e{};
  e.h = header(CW_EV_SCHED_SWITCH, ts, prev == 0 ? 0 : 100, prev, cpu);
  e.next_pid = next == 0 ? 0 : (next == 300 ? 300 : 100);
  e.next_tid = next;
  e.prev_state = state;
  e.preempt = state == 0;
  e.prev_traced = prev == 101 || prev == 102;
  e.next_traced = next == 101 || next == 102;
  e.syscall_nr = syscall;
  e.syscall_ts = syscall >= 0 ? ts - 500 : 0;
  comm(e.prev_comm, prev == 101 ? "decode" : prev == 102 ? "loader" : "other");
  comm(e.next_comm, next == 101 ? "decode" : next == 102 ? "loader" : "other");
  e.cpu_seq = seq;
  if (state != 0) {
    e.stack_depth = 2;
    e.stack[0] = 0x402000;
    e.stack[1] = 0x403000;
  }
  return e;
}
size_t sw_len(const cw_sched_switch& e) {
  return sizeof(e) - sizeof(e.stack) + 8 * e.stack_depth;
}

cw_wakeup wake(uint64_t ts, uint32_t waker, uint32_t wakee, int32_t cpu, uint8_t ctx) {
  cw_wakeup e{};
  e.h = header(CW_EV_WAKEUP, ts, waker ? 100 : 0, waker, 0);
  e.wakee_pid = 100;
  e.wakee_tid = wakee;
  e.target_cpu = cpu;
  e.waker_ctx = ctx;
  comm(e.waker_comm, "loader");
  comm(e.wakee_comm, "decode");
  e.waking_ts = ts - 100;
  e.cpu_curr_pid = 300;
  e.cpu_curr_tid = 300;
  e.cpu_seq = 7;
  return e;
}

void decoder_seeds(const std::string& dir) {
  // CUDA calls with stacks and arguments.
  {
    Records r;
    auto copy = cuda("cudaMemcpyAsync", 2000, 500, 2);
    copy.args[2] = 4096;
    copy.args[3] = 1;
    r.add(copy, cuda_len(copy));
    auto launch = cuda("cudaLaunchKernel", 3000, 20, 0);
    launch.args[1] = (uint64_t{2} << 32) | 64;
    launch.valid = CW_CUDA_V_STACK_ARGS;
    r.add(launch, cuda_len(launch));
    auto alloc = cuda("cuMemAlloc_v2", 4000, 70, 1);
    alloc.out0 = 0xd000000;
    alloc.valid = CW_CUDA_V_OUT0;
    r.add(alloc, cuda_len(alloc));
    r.add(cuda("cudaStreamSynchronize", 5000, 4000, 3),
          cuda_len(cuda("cudaStreamSynchronize", 5000, 4000, 3)));
    r.write(dir + "/cuda_calls");
  }
  // Scheduling: decode blocks in futex, the loader wakes it, an untraced task holds the CPU,
  // it migrates and runs again.
  {
    Records r;
    auto a = sw(2000, 0, 101, 1, 102, 5, 202);
    r.add(a, sw_len(a));
    r.add(wake(3000, 102, 101, 0, CW_WAKER_TASK));
    auto b = sw(3500, 0, 102, 0, 300, 6);
    r.add(b, sw_len(b));
    cw_migrate m{};
    m.h = header(CW_EV_MIGRATE, 3600, 100, 101, 1);
    m.orig_cpu = 0;
    m.dest_cpu = 1;
    m.dest_curr_pid = 0;
    m.dest_seq = 3;
    r.add(m);
    auto c = sw(4000, 1, 0, 0, 101, 4);
    r.add(c, sw_len(c));
    r.add(wake(4500, 0, 102, 0, CW_WAKER_TIMER));
    r.write(dir + "/scheduling");
  }
  // Process lifecycle.
  {
    Records r;
    cw_fork f{};
    f.h = header(CW_EV_FORK, 1500, 100, 101);
    f.child_pid = 100;
    f.child_tid = 102;
    comm(f.parent_comm, "python");
    comm(f.child_comm, "loader");
    r.add(f);
    cw_exec e{};
    e.h = header(CW_EV_EXEC, 1600, 200, 200);
    e.old_tid = 200;
    comm(e.comm, "worker");
    std::strncpy(e.filename, "/usr/bin/python3", CW_PATH_LEN - 1);
    r.add(e);
    cw_lib_load l{};
    l.h = header(CW_EV_LIB_LOAD, 1700, 200, 200);
    l.stopped = 1;
    r.add(l);
    cw_oom_kill o{};
    o.h = header(CW_EV_OOM_KILL, 1800, 1, 1);
    o.victim_pid = 200;
    o.victim_tid = 200;
    comm(o.victim_comm, "worker");
    r.add(o);
    cw_exit x{};
    x.h = header(CW_EV_EXIT, 1900, 200, 200);
    x.exit_code = 9;
    x.group_dead = 1;
    comm(x.comm, "worker");
    r.add(x);
    r.write(dir + "/lifecycle");
  }
  // Syscalls and block I/O.
  {
    Records r;
    cw_syscall s{};
    s.h = header(CW_EV_SYSCALL, 2000, 100, 101);
    s.nr = 0;  // read
    s.dur_ns = 3000;
    s.ret = 1 << 20;
    s.args[0] = 7;
    s.args[2] = 1 << 20;
    r.add(s);
    s.h.ts_ns = 6000;
    s.nr = 202;  // futex
    s.ret = -110;
    r.add(s);
    cw_block_io io{};
    io.h = header(CW_EV_BLOCK_IO, 2100, 100, 101);
    io.insert_ts = 2100;
    io.issue_ts = 2300;
    io.complete_ts = 4900;
    io.sector = 2048;
    io.bytes = 65536;
    io.dev = (8u << 20) | 1;
    io.cmd_flags = 1;
    r.add(io);
    r.write(dir + "/io");
  }
  // Short and unknown records.
  {
    Records r;
    cw_header h = header(99, 10, 1, 1);
    r.add(h);
    r.add(h, 4);
    auto c = cuda("cudaFree", 100, 1, 0);
    r.add(c, 40);
    r.write(dir + "/malformed");
  }
}

int compact(const std::string& path) {
  sqlite3* db = nullptr;
  if (sqlite3_open(path.c_str(), &db) != SQLITE_OK) return 1;
  char* err = nullptr;
  int rc = sqlite3_exec(db, "PRAGMA journal_mode=DELETE; PRAGMA page_size=512; VACUUM;", nullptr,
                        nullptr, &err);
  if (rc != SQLITE_OK) std::fprintf(stderr, "compact %s: %s\n", path.c_str(), err);
  sqlite3_free(err);
  sqlite3_close(db);
  return rc == SQLITE_OK ? 0 : 1;
}

int trace_seeds(const std::string& dir) {
  // Names without .db: the repository ignores *.db outside investigations/.
  const std::string fixture = dir + "/fixture";
  const std::string analysed = dir + "/fixture_analysed";
  const std::string empty = dir + "/empty";
  for (const auto& p : {fixture, analysed, empty}) std::filesystem::remove(p);
  if (Status st = testing::write_fixture_trace(fixture); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  std::filesystem::copy_file(fixture, analysed);
  if (Status st = analyze::analyze_and_store(analysed); !st.ok()) {
    std::fprintf(stderr, "%s\n", st.message().c_str());
    return 1;
  }
  {
    store::WriterOptions o;
    o.origin_ns = 1000;
    auto w = store::Writer::create(empty, o);
    if (!w.ok() || !(*w)->close().ok()) return 1;
  }
  int rc = 0;
  for (const auto& p : {fixture, analysed, empty}) rc |= compact(p);
  return rc;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3) {
    std::fprintf(stderr, "usage: fuzz_make_seeds DECODER_DIR TRACE_DIR\n");
    return 2;
  }
  std::filesystem::create_directories(argv[1]);
  std::filesystem::create_directories(argv[2]);
  decoder_seeds(argv[1]);
  return trace_seeds(argv[2]);
}
