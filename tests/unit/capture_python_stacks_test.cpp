// Python stacks through the decoder without root: a synthetic process memory holding 3.11
// code objects, CW_EV_PY_STACK records as BPF writes them, and the CUDA call / blocking
// switch records they belong to. Checks resolution (function, file, exact line, entry),
// attachment to the right event, deduplication, and honest failure.
#include <gtest/gtest.h>

#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/decoder.h"
#include "capture/python_resolver.h"
#include "capture/python_stacks.h"
#include "causeway/abi/events.h"

namespace causeway::capture {
namespace {

// Memory of one fake process: regions at fixed addresses.
class FakeMemory final : public ProcessMemory {
 public:
  bool read(int32_t, uint64_t addr, void* out, size_t len) override {
    for (const auto& [base, bytes] : regions) {
      if (addr >= base && addr + len <= base + bytes.size()) {
        std::memcpy(out, bytes.data() + (addr - base), len);
        return true;
      }
    }
    return false;
  }
  std::vector<uint8_t>& region(uint64_t base, size_t size) {
    auto& r = regions[base];
    r.resize(size);
    return r;
  }
  template <typename T>
  void put(uint64_t addr, T v) {
    for (auto& [base, bytes] : regions) {
      if (addr >= base && addr + sizeof(T) <= base + bytes.size()) {
        std::memcpy(bytes.data() + (addr - base), &v, sizeof(T));
        return;
      }
    }
    ADD_FAILURE() << "no region at " << addr;
  }
  std::map<uint64_t, std::vector<uint8_t>> regions;
};

constexpr uint64_t kTypeAddr = 0x10000, kTypeName = 0x11000;

// Lays out objects as CPython 3.11 (x86-64) does.
class Python311Image {
 public:
  explicit Python311Image(FakeMemory& m) : m_(m), l_(python_layout_for(11).value()) {
    m_.region(kTypeAddr, 256);
    m_.put<uint64_t>(kTypeAddr + l_.type_tp_name, kTypeName);
    auto& name = m_.region(kTypeName, 8);
    std::memcpy(name.data(), "code", 5);
  }
  uint64_t str(const std::string& s) {
    const uint64_t a = next(48 + s.size() + 1);
    m_.put<int64_t>(a + l_.unicode_length, static_cast<int64_t>(s.size()));
    m_.put<uint32_t>(a + l_.unicode_state,
                     (1u << 2) | (1u << 5) | (1u << 6));  // kind 1, compact, ascii
    for (size_t i = 0; i < s.size(); i++) m_.put<char>(a + l_.ascii_size + i, s[i]);
    return a;
  }
  uint64_t bytes(const std::vector<uint8_t>& b) {
    const uint64_t a = next(32 + b.size());
    m_.put<int64_t>(a + l_.bytes_size, static_cast<int64_t>(b.size()));
    for (size_t i = 0; i < b.size(); i++) m_.put<uint8_t>(a + l_.bytes_data + i, b[i]);
    return a;
  }
  // A code object of `units` code units; returns its address.
  uint64_t code(const std::string& qualname, const std::string& file, int first_line,
                const std::vector<uint8_t>& linetable, uint64_t units, int first_traceable = 0) {
    const uint64_t a = next(static_cast<size_t>(l_.code_adaptive) + units * 2);
    code_at(a, qualname, file, first_line, linetable, units, first_traceable);
    return a;
  }
  // Writes a code object at `a` (over a freed one, as the allocator reuses its memory); its
  // strings and line table are new objects.
  void code_at(uint64_t a, const std::string& qualname, const std::string& file, int first_line,
               const std::vector<uint8_t>& linetable, uint64_t units, int first_traceable = 0) {
    m_.put<uint64_t>(a + l_.ob_type, kTypeAddr);
    m_.put<int64_t>(a + 16, static_cast<int64_t>(units));
    m_.put<int32_t>(a + l_.code_firstlineno, first_line);
    m_.put<uint64_t>(a + l_.code_filename, str(file));
    m_.put<uint64_t>(a + l_.code_name, str(qualname));
    m_.put<uint64_t>(a + static_cast<uint64_t>(l_.code_qualname), str(qualname));
    m_.put<uint64_t>(a + l_.code_linetable, bytes(linetable));
    m_.put<int32_t>(a + static_cast<uint64_t>(l_.code_firsttraceable), first_traceable);
  }
  // The stamp BPF records for the code object at `a` (events.h).
  uint64_t stamp(uint64_t a) const {
    __u64 words[CW_PY_STAMP_WORDS];
    if (!m_.read(0, a + CW_PY_STAMP_OFFSET, words, sizeof(words))) return 0;
    return cw_py_code_stamp(words);
  }
  // The frame BPF records for code unit `unit` of `code`, stamp included.
  cw_py_frame frame(uint64_t code, uint64_t unit) const {
    return {code, instr(code, unit), stamp(code)};
  }
  // The prev_instr value of a frame executing code unit `unit` of `code`.
  uint64_t instr(uint64_t code, uint64_t unit) const {
    return code + static_cast<uint64_t>(l_.code_adaptive) + unit * 2;
  }
  const PyLayout& layout() const { return l_; }

 private:
  uint64_t next(size_t size) {
    const uint64_t a = next_;
    next_ += (size + 15) / 16 * 16 + 64;
    m_.region(a, size);
    return a;
  }
  FakeMemory& m_;
  PyLayout l_;
  uint64_t next_ = 0x100000;
};

// One line per code unit pair: units 0-1 line first+1, units 2-3 first+2, ... (no-columns form).
std::vector<uint8_t> table_two_units_per_line(int lines) {
  std::vector<uint8_t> t;
  for (int i = 0; i < lines; i++) {
    t.push_back(0x80 | (13 << 3) | 1);
    t.push_back(0x02);  // +1
  }
  return t;
}

class RecordingSink final : public RowSink {
 public:
  store::StringId intern(std::string_view) override { return 1; }
  store::StackId intern_stack(int32_t, std::span<const uint64_t>) override { return 0; }
  store::StackId intern_py_stack(int32_t pid, std::span<const store::PyFrameRow> frames) override {
    py_stacks.emplace_back(frames.begin(), frames.end());
    py_pids.push_back(pid);
    return static_cast<store::StackId>(py_stacks.size());
  }
  Result<store::RowId> add(const store::CudaCallRow& r) override {
    cuda.push_back(r);
    return static_cast<store::RowId>(cuda.size());
  }
  Result<store::RowId> add(const store::ThreadStateRow& r) override {
    states.push_back(r);
    return static_cast<store::RowId>(states.size());
  }
  Result<store::RowId> add(const store::WakeupRow&) override { return 1; }
  Result<store::RowId> add(const store::SyscallRow&) override { return 1; }
  Result<store::RowId> add(const store::BlockIoRow&) override { return 1; }
  Result<store::RowId> add(const store::ProcessEventRow&) override { return 1; }
  Status note_thread(const store::ThreadInfo&) override { return Status::Ok(); }
  Status note_process(const store::ProcessInfo&) override { return Status::Ok(); }
  Status note_mapping(const store::MappingInfo&) override { return Status::Ok(); }

  std::vector<std::vector<store::PyFrameRow>> py_stacks;
  std::vector<int32_t> py_pids;
  std::vector<store::CudaCallRow> cuda;
  std::vector<store::ThreadStateRow> states;
};

template <typename T>
std::vector<uint8_t> bytes_of(const T& v, size_t size = sizeof(T)) {
  std::vector<uint8_t> b(size);
  std::memcpy(b.data(), &v, size);
  return b;
}

std::vector<uint8_t> py_record(uint32_t pid, uint32_t tid, uint64_t ts, uint8_t trigger,
                               const std::vector<cw_py_frame>& frames, uint32_t entry_mask,
                               uint32_t flags = 0) {
  cw_py_stack e{};
  e.h.kind = CW_EV_PY_STACK;
  e.h.ts_ns = ts;
  e.h.pid = pid;
  e.h.tid = tid;
  e.trigger = trigger;
  e.depth = static_cast<uint32_t>(frames.size());
  e.entry_mask = entry_mask;
  e.flags = flags;
  for (size_t i = 0; i < frames.size(); i++) e.frames[i] = frames[i];
  return bytes_of(e, offsetof(cw_py_stack, frames) + frames.size() * sizeof(cw_py_frame));
}

std::vector<uint8_t> cuda_record(uint32_t pid, uint32_t tid, uint64_t ts, uint32_t func_id) {
  cw_cuda_call e{};
  e.h.kind = CW_EV_CUDA_CALL;
  e.h.ts_ns = ts;
  e.h.pid = pid;
  e.h.tid = tid;
  e.dur_ns = 1000;
  e.func_id = func_id;
  return bytes_of(e, sizeof(e) - sizeof(e.stack));
}

std::vector<uint8_t> switch_record(uint32_t pid, uint32_t tid, uint64_t ts, bool blocked,
                                   uint32_t next_tid) {
  cw_sched_switch e{};
  e.h.kind = CW_EV_SCHED_SWITCH;
  e.h.ts_ns = ts;
  e.h.pid = pid;
  e.h.tid = tid;
  e.next_pid = next_tid;
  e.next_tid = next_tid;
  e.prev_state = blocked ? 1 : 0;
  e.prev_traced = 1;
  e.next_traced = 0;
  e.syscall_nr = -1;
  return bytes_of(e, sizeof(e) - sizeof(e.stack));
}

uint32_t function_id(const char* name) {
  const auto& t = CudaFunctionTable::builtin();
  for (uint32_t id = 0; id < 4096; id++) {
    const CudaFunction* f = t.by_id(id);
    if (f && f->name == name) return id;
  }
  ADD_FAILURE() << name << " not in the function table";
  return 0;
}

struct Fixture {
  FakeMemory mem;
  Python311Image img{mem};
  RecordingSink sink;
  PythonResolver resolver{mem};
  PythonStacks stacks{sink, resolver};
  DecoderOptions opts() {
    DecoderOptions o;
    o.python = &stacks;
    return o;
  }
};

TEST(CapturePythonStacks, ACudaCallGetsItsPythonStackWithExactLines) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t step =
      f.img.code("Trainer.step", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  const uint64_t main =
      f.img.code("<module>", "/srv/train.py", 1, table_two_units_per_line(30), 60);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  const uint32_t sync = function_id("cudaStreamSynchronize");
  // Unit 7 of step is on line 40 + 4; unit 50 of <module> on line 1 + 26 + 0 (entry 25 of +1 each:
  // 1 + 26).
  ASSERT_TRUE(d.ingest(py_record(100, 101, 5000, CW_PY_FOR_CUDA,
                                 {f.img.frame(step, 7), f.img.frame(main, 50)}, 0b10))
                  .ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 5000, sync)).ok());
  ASSERT_EQ(f.sink.cuda.size(), 1u);
  ASSERT_EQ(f.sink.cuda[0].py_stack, 1);
  ASSERT_EQ(f.sink.py_stacks.size(), 1u);
  const auto& s = f.sink.py_stacks[0];
  ASSERT_EQ(s.size(), 2u);
  EXPECT_EQ(s[0].function, "Trainer.step");
  EXPECT_EQ(s[0].file, "/srv/train.py");
  EXPECT_EQ(s[0].line, 44);
  EXPECT_FALSE(s[0].entry);
  EXPECT_EQ(s[1].function, "<module>");
  EXPECT_EQ(s[1].line, 27);
  EXPECT_TRUE(s[1].entry);
  EXPECT_EQ(f.sink.py_pids[0], 100);

  // The same raw stack again is not re-resolved and maps to the same stored stack; a call
  // without a Python record gets none.
  ASSERT_TRUE(d.ingest(py_record(100, 101, 6000, CW_PY_FOR_CUDA,
                                 {f.img.frame(step, 7), f.img.frame(main, 50)}, 0b10))
                  .ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 6000, sync)).ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 7000, sync)).ok());
  EXPECT_EQ(f.sink.cuda[1].py_stack, 1);
  EXPECT_EQ(f.sink.cuda[2].py_stack, 0);
  EXPECT_EQ(f.stacks.counts().resolved, 1);
  EXPECT_EQ(f.stacks.counts().attached, 2);
  EXPECT_EQ(f.resolver.code_objects_read(), 2);
}

TEST(CapturePythonStacks, NestedCallsEachClaimTheirOwnRecord) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t a = f.img.code("alloc", "/a.py", 10, table_two_units_per_line(5), 10);
  const uint64_t b = f.img.code("copy", "/a.py", 20, table_two_units_per_line(5), 10);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  // Runtime call at ts 100 (entry) encloses a driver call at ts 150; the inner one's record
  // is written first (it returns first).
  ASSERT_TRUE(d.ingest(py_record(100, 101, 100, CW_PY_FOR_CUDA, {f.img.frame(a, 2)}, 1)).ok());
  ASSERT_TRUE(d.ingest(py_record(100, 101, 150, CW_PY_FOR_CUDA, {f.img.frame(b, 4)}, 1)).ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 150, function_id("cuMemAlloc_v2"))).ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 100, function_id("cudaMalloc"))).ok());
  ASSERT_EQ(f.sink.cuda.size(), 2u);
  EXPECT_EQ(f.sink.py_stacks[static_cast<size_t>(f.sink.cuda[0].py_stack - 1)][0].function, "copy");
  EXPECT_EQ(f.sink.py_stacks[static_cast<size_t>(f.sink.cuda[1].py_stack - 1)][0].function,
            "alloc");
  EXPECT_EQ(f.sink.py_stacks[static_cast<size_t>(f.sink.cuda[1].py_stack - 1)][0].line, 12);
}

TEST(CapturePythonStacks, ABlockedIntervalGetsThePythonStackOfWhereItBlocked) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t load =
      f.img.code("load_batch", "/srv/data.py", 7, table_two_units_per_line(6), 12);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  ASSERT_TRUE(
      d.ingest(switch_record(100, 101, 1000, false, 0)).ok());  // preempted: no Python stack
  ASSERT_TRUE(d.ingest(switch_record(0, 0, 2000, false, 101)).ok());
  // Blocks at unit 9 (line 7 + 5).
  ASSERT_TRUE(d.ingest(py_record(100, 101, 3000, CW_PY_FOR_BLOCK, {f.img.frame(load, 9)}, 1)).ok());
  ASSERT_TRUE(d.ingest(switch_record(100, 101, 3000, true, 0)).ok());
  ASSERT_TRUE(d.finish(9000).ok());
  const store::ThreadStateRow* blocked = nullptr;
  for (const auto& r : f.sink.states) {
    if (r.state == store::ThreadState::kSleeping) blocked = &r;
    if (r.state != store::ThreadState::kSleeping) {
      EXPECT_EQ(r.py_stack, 0);
    }
  }
  ASSERT_NE(blocked, nullptr);
  ASSERT_EQ(blocked->py_stack, 1);
  EXPECT_EQ(f.sink.py_stacks[0][0].function, "load_batch");
  EXPECT_EQ(f.sink.py_stacks[0][0].line, 12);
}

TEST(CapturePythonStacks, UnreadableAndIncompleteFramesAreHonest) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t ok = f.img.code("work", "/w.py", 3, table_two_units_per_line(4), 8, 2);
  const uint64_t gone = 0xdead0000;  // not mapped: the code object cannot be read
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  ASSERT_TRUE(d.ingest(py_record(100, 101, 10, CW_PY_FOR_CUDA,
                                 {f.img.frame(ok, 1),  // before _co_firsttraceable: left out
                                  f.img.frame(ok, 5),
                                  {gone, 0x1234, 0},
                                  f.img.frame(ok, 500)},  // outside its code object
                                 0, CW_PY_TRUNCATED))
                  .ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 101, 10, function_id("cudaMalloc"))).ok());
  ASSERT_EQ(f.sink.py_stacks.size(), 1u);
  const auto& s = f.sink.py_stacks[0];
  ASSERT_EQ(s.size(), 4u);
  EXPECT_EQ(s[0].function, "work");
  EXPECT_EQ(s[0].line, 6);
  EXPECT_EQ(s[1].function.rfind("<unresolved: code object 0xdead0000 unreadable", 0), 0u)
      << s[1].function;
  EXPECT_EQ(s[1].line, -1);
  EXPECT_TRUE(s[1].file.empty());
  EXPECT_EQ(s[2].function.rfind("<unresolved: instruction pointer outside work", 0), 0u)
      << s[2].function;
  EXPECT_EQ(s[3].function.rfind("<truncated", 0), 0u) << s[3].function;
  EXPECT_EQ(f.stacks.counts().truncated, 1);
}

TEST(CapturePythonStacks, Python310FramesUseLastiAndThePep626Table) {
  FakeMemory mem;
  RecordingSink sink;
  PythonResolver resolver(mem);
  PythonStacks stacks(sink, resolver);
  const PyLayout l = python_layout_for(10).value();
  resolver.add_process(7, l);
  // A 3.10 code object: type, names (no qualname in 3.10), PEP 626 table.
  mem.region(kTypeAddr, 256);
  mem.put<uint64_t>(kTypeAddr + l.type_tp_name, kTypeName);
  std::memcpy(mem.region(kTypeName, 8).data(), "code", 5);
  const uint64_t code = 0x200000, name = 0x201000, file = 0x202000, table = 0x203000;
  mem.region(code, 256);
  mem.put<uint64_t>(code + l.ob_type, kTypeAddr);
  mem.put<int32_t>(code + l.code_firstlineno, 100);
  mem.put<uint64_t>(code + l.code_name, name);
  mem.put<uint64_t>(code + l.code_filename, file);
  mem.put<uint64_t>(code + l.code_linetable, table);
  for (auto [addr, text] :
       {std::pair{name, std::string("fwd")}, std::pair{file, std::string("/m.py")}}) {
    mem.region(addr, 64);
    mem.put<int64_t>(addr + l.unicode_length, static_cast<int64_t>(text.size()));
    mem.put<uint32_t>(addr + l.unicode_state, (1u << 2) | (1u << 5) | (1u << 6) | (1u << 7));
    for (size_t i = 0; i < text.size(); i++) mem.put<char>(addr + l.ascii_size + i, text[i]);
  }
  const std::vector<uint8_t> pep626 = {8, 1, 8, 3};  // bytes 0-7 line 101, 8-15 line 104
  mem.region(table, 64);
  mem.put<int64_t>(table + l.bytes_size, 4);
  for (size_t i = 0; i < pep626.size(); i++) mem.put<uint8_t>(table + l.bytes_data + i, pep626[i]);

  ASSERT_TRUE(stacks.ingest(py_record(7, 7, 1, CW_PY_FOR_CUDA, {{code, 5, 0}}, 1))
                  .ok());  // f_lasti 5 = byte 10
  const store::StackId id = stacks.take(7, 1);
  ASSERT_EQ(id, 1);
  EXPECT_EQ(stacks.take(7, 1), 0);  // claimed once
  ASSERT_EQ(sink.py_stacks.size(), 1u);
  EXPECT_EQ(sink.py_stacks[0][0].function, "fwd");
  EXPECT_EQ(sink.py_stacks[0][0].file, "/m.py");
  EXPECT_EQ(sink.py_stacks[0][0].line, 104);
  EXPECT_TRUE(sink.py_stacks[0][0].entry);
}

std::vector<uint8_t> exec_record(uint32_t pid, uint64_t ts) {
  cw_exec e{};
  e.h.kind = CW_EV_EXEC;
  e.h.ts_ns = ts;
  e.h.pid = pid;
  e.h.tid = pid;
  e.old_tid = pid;
  std::memcpy(e.comm, "python3", 8);
  std::memcpy(e.filename, "/usr/bin/python3", 17);
  return bytes_of(e);
}

// A module body runs once and is freed; the next code object (another module's body, a
// notebook cell, exec'd code) is often allocated at the same address, sometimes before the
// tracer has read the frames of an event that ran the old one. Each frame's stamp, recorded
// at the event, tells them apart: never a name of the wrong code object.
TEST(CapturePythonStacks, ACodeObjectReplacedAtItsAddressIsToldApartByItsStamp) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t body = f.img.code("<module>", "/usr/lib/python3.11/importlib/readers.py", 1,
                                   table_two_units_per_line(30), 60);
  const uint64_t work = f.img.code("work", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  const uint64_t work_stamp = f.img.stamp(work), old_stamp = f.img.stamp(body);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  const uint32_t sync = function_id("cudaStreamSynchronize");
  auto call = [&](int64_t ts, uint64_t body_unit, uint64_t body_stamp) {
    ASSERT_TRUE(d.ingest(py_record(100, 101, static_cast<uint64_t>(ts), CW_PY_FOR_CUDA,
                                   {{work, f.img.instr(work, 3), work_stamp},
                                    {body, f.img.instr(body, body_unit), body_stamp}},
                                   0b10))
                    .ok());
    ASSERT_TRUE(d.ingest(cuda_record(100, 101, static_cast<uint64_t>(ts), sync)).ok());
  };
  auto frame = [&](size_t call_index, size_t depth) {
    return f.sink.py_stacks[static_cast<size_t>(f.sink.cuda[call_index].py_stack - 1)][depth];
  };
  call(1000, 10, old_stamp);
  EXPECT_EQ(frame(0, 1).file, "/usr/lib/python3.11/importlib/readers.py");
  EXPECT_EQ(frame(0, 1).line, 1 + 6);
  EXPECT_EQ(f.resolver.code_objects_read(), 2);

  // The module body is freed and the script's body takes its place, with a different size.
  f.img.code_at(body, "<module>", "/srv/train.py", 100, table_two_units_per_line(40), 80);
  const uint64_t new_stamp = f.img.stamp(body);
  ASSERT_NE(new_stamp, old_stamp);
  call(2000, 20, new_stamp);
  EXPECT_EQ(frame(1, 1).file, "/srv/train.py");
  EXPECT_EQ(frame(1, 1).line, 100 + 11);
  // The very raw stack of the first call, by the old body: still the old body's names (they
  // were read while it lived), not the new one's.
  call(3000, 10, old_stamp);
  EXPECT_EQ(frame(2, 1).file, "/usr/lib/python3.11/importlib/readers.py");
  EXPECT_EQ(f.resolver.code_objects_read(), 3);
  // An event of the old body that the tracer reaches only after the replacement: the object
  // there is not the one the frame ran, and the frame says so.
  call(4000, 14, old_stamp ^ 0x5a5a);
  EXPECT_EQ(frame(3, 1).function.rfind("<unresolved: code object", 0), 0u) << frame(3, 1).function;
  EXPECT_NE(frame(3, 1).function.find("freed and its memory reused"), std::string::npos);
  EXPECT_TRUE(frame(3, 1).file.empty());
  EXPECT_EQ(frame(3, 0).function, "work");  // the unchanged function is unaffected
}

// Frames BPF could not stamp (stamp 0) are checked against the live object instead.
TEST(CapturePythonStacks, AnUnstampedCodeObjectReplacedAtItsAddressIsReadAgain) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t body = f.img.code("<module>", "/usr/lib/python3.11/importlib/readers.py", 1,
                                   table_two_units_per_line(30), 60);
  const uint64_t work = f.img.code("work", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  const uint32_t sync = function_id("cudaStreamSynchronize");
  auto call = [&](int64_t ts, uint64_t body_unit) {
    ASSERT_TRUE(d.ingest(py_record(100, 101, static_cast<uint64_t>(ts), CW_PY_FOR_CUDA,
                                   {{work, f.img.instr(work, 3), 0},
                                    {body, f.img.instr(body, body_unit), 0}},
                                   0b10))
                    .ok());
    ASSERT_TRUE(d.ingest(cuda_record(100, 101, static_cast<uint64_t>(ts), sync)).ok());
  };
  auto outer = [&](size_t i) {
    return f.sink.py_stacks[static_cast<size_t>(f.sink.cuda[i].py_stack - 1)][1];
  };
  call(1000, 10);
  EXPECT_EQ(outer(0).file, "/usr/lib/python3.11/importlib/readers.py");
  // An unchanged code object seen in a new stack is checked, not read again.
  call(2000, 12);
  EXPECT_EQ(f.resolver.code_objects_read(), 2);
  EXPECT_EQ(f.resolver.code_objects_replaced(), 0);

  f.img.code_at(body, "<module>", "/srv/train.py", 100, table_two_units_per_line(30), 60);
  call(3000, 20);
  EXPECT_EQ(outer(2).file, "/srv/train.py");
  EXPECT_EQ(outer(2).line, 100 + 11);
  EXPECT_EQ(f.resolver.code_objects_replaced(), 1);
  // The very raw stack of the first call is not taken from the raw-stack cache any more.
  call(4000, 10);
  EXPECT_EQ(outer(3).file, "/srv/train.py");
  EXPECT_EQ(outer(3).line, 100 + 6);
}

TEST(CapturePythonStacks, AnExecForgetsTheOldImageEvenForTheSameBinary) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t step = f.img.code("step", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  std::vector<int32_t> told;
  f.stacks.set_exit_hook([&](int32_t pid) { told.push_back(pid); });
  const uint32_t sync = function_id("cudaStreamSynchronize");
  ASSERT_TRUE(d.ingest(exec_record(100, 1000)).ok());
  EXPECT_FALSE(f.resolver.knows(100));
  EXPECT_EQ(told, std::vector<int32_t>{100});  // the BPF walker is stopped for it too

  // A record of the old image still in flight resolves against nothing: no stack at all.
  ASSERT_TRUE(d.ingest(py_record(100, 100, 5000, CW_PY_FOR_CUDA, {f.img.frame(step, 7)}, 1)).ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 100, 5000, sync)).ok());
  ASSERT_EQ(f.sink.cuda.size(), 1u);
  EXPECT_EQ(f.sink.cuda[0].py_stack, 0);
  EXPECT_TRUE(f.sink.py_stacks.empty());

  // Registered again by the rescan of the new image: its code objects are read afresh.
  f.resolver.add_process(100, f.img.layout());
  ASSERT_TRUE(d.ingest(py_record(100, 100, 6000, CW_PY_FOR_CUDA, {f.img.frame(step, 7)}, 1)).ok());
  ASSERT_TRUE(d.ingest(cuda_record(100, 100, 6000, sync)).ok());
  ASSERT_EQ(f.sink.cuda.size(), 2u);
  EXPECT_EQ(f.sink.cuda[1].py_stack, 1);
  EXPECT_EQ(f.sink.py_stacks[0][0].function, "step");
  EXPECT_EQ(f.resolver.code_objects_read(), 1);
}

TEST(CapturePythonStacks, ThePendingTableStaysBoundedAsThreadsComeAndGo) {
  Fixture f;
  f.resolver.add_process(100, f.img.layout());
  const uint64_t step = f.img.code("step", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  Decoder d(f.sink, CudaFunctionTable::builtin(), f.opts());
  const uint32_t sync = function_id("cudaStreamSynchronize");
  const size_t bound = PythonStacks::kMaxPendingThreads;
  // Short-lived threads, one call each, far more of them than the bound: every stack is
  // claimed, and the table never holds more than the bound.
  const int32_t threads = static_cast<int32_t>(bound) * 5 / 2;
  for (int32_t i = 0; i < threads; i++) {
    const int32_t tid = 1000 + i;
    const uint64_t ts = 10000 + static_cast<uint64_t>(i);
    ASSERT_TRUE(d.ingest(py_record(100, static_cast<uint32_t>(tid), ts, CW_PY_FOR_CUDA,
                                   {f.img.frame(step, 7)}, 1))
                    .ok());
    ASSERT_TRUE(d.ingest(cuda_record(100, static_cast<uint32_t>(tid), ts, sync)).ok());
    ASSERT_LE(f.stacks.pending_threads(), bound);
  }
  ASSERT_EQ(f.sink.cuda.size(), static_cast<size_t>(threads));
  for (const auto& c : f.sink.cuda) ASSERT_EQ(c.py_stack, 1);
  EXPECT_EQ(f.stacks.counts().attached, threads);
  EXPECT_EQ(f.stacks.counts().unclaimed, 0);

  // Threads whose calls never return (their stacks are never claimed) cannot grow it either;
  // what is let go is counted, never silent.
  Fixture g;
  g.resolver.add_process(100, g.img.layout());
  const uint64_t s2 = g.img.code("step", "/srv/train.py", 40, table_two_units_per_line(10), 20);
  for (int32_t i = 0; i < threads; i++) {
    ASSERT_TRUE(g.stacks
                    .ingest(py_record(100, static_cast<uint32_t>(5000 + i), 1 + i, CW_PY_FOR_CUDA,
                                      {g.img.frame(s2, 7)}, 1))
                    .ok());
    ASSERT_LE(g.stacks.pending_threads(), bound);
  }
  EXPECT_GT(g.stacks.counts().unclaimed, 0);
  EXPECT_EQ(g.stacks.counts().unclaimed + static_cast<int64_t>(g.stacks.pending_threads()),
            threads);
  // The latest thread's stack survived the trim and is still claimed by its event.
  const int32_t last = 5000 + threads - 1;
  EXPECT_EQ(g.stacks.take(last, 1 + threads - 1), 1);
}

TEST(CapturePythonStacks, MalformedRecordsAreCountedNotTrusted) {
  Fixture f;
  auto rec = py_record(100, 101, 10, CW_PY_FOR_CUDA, {{1, 2, 0}}, 0);
  rec.resize(rec.size() - 4);
  ASSERT_TRUE(f.stacks.ingest(rec).ok());
  auto deep = py_record(100, 101, 10, CW_PY_FOR_CUDA, {{1, 2, 0}}, 0);
  const uint32_t too_deep = CW_PY_MAX_FRAMES + 1;
  std::memcpy(deep.data() + offsetof(cw_py_stack, depth), &too_deep, 4);
  ASSERT_TRUE(f.stacks.ingest(deep).ok());
  EXPECT_EQ(f.stacks.counts().malformed, 2);
  EXPECT_TRUE(f.sink.py_stacks.empty());
}

}  // namespace
}  // namespace causeway::capture
