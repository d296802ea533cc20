// DWARF-CFI unwinding of copied stacks, without root: this test process takes its own
// registers and a copy of its own stack inside a chain of functions compiled without frame
// pointers (this file is built with -fomit-frame-pointer, tests/CMakeLists.txt), exactly what
// bpf/ustack.bpf.c records at a probe, and the unwinder must name every function of the chain
// from the copy alone. The decoder test feeds the same sample as a CW_EV_USER_STACK record.
#include <elfutils/libdwfl.h>
#include <gtest/gtest.h>
#include <pthread.h>
#include <unistd.h>

#include <algorithm>
#include <cstring>
#include <map>
#include <string>
#include <vector>

#include "capture/cuda_functions.h"
#include "capture/decoder.h"
#include "capture/dwarf_unwinder.h"
#include "causeway/abi/events.h"

namespace {

struct Captured {
  causeway::capture::StackSample sample;
  std::vector<uint8_t> stack;
};

// One past the highest address of the calling thread's stack: the copy must stop there.
uint64_t stack_top() {
  pthread_attr_t attr;
  void* addr = nullptr;
  size_t size = 0;
  if (pthread_getattr_np(pthread_self(), &attr) != 0) return 0;
  pthread_attr_getstack(&attr, &addr, &size);
  pthread_attr_destroy(&attr);
  return reinterpret_cast<uint64_t>(addr) + size;
}

}  // namespace

// The chain: test body -> cw_test_level3 -> cw_test_level2 -> cw_test_level1 ->
// cw_test_capture. noinline/noclone keep each a frame of its own under its own name; the work
// after each call keeps it from becoming a tail jump.
extern "C" {
__attribute__((noinline, noclone)) int cw_test_capture(Captured* out, size_t bytes) {
  uint64_t r[CW_UREG_COUNT];
  // What BPF reads from pt_regs at a probe: pc, sp, and the callee-saved registers CFI may
  // need, all at one instruction (the one after the lea).
  asm volatile(
      "lea 0(%%rip), %%rax\n\t"
      "mov %%rax, 0(%0)\n\t"
      "mov %%rsp, 8(%0)\n\t"
      "mov %%rbp, 16(%0)\n\t"
      "mov %%rbx, 24(%0)\n\t"
      "mov %%r12, 32(%0)\n\t"
      "mov %%r13, 40(%0)\n\t"
      "mov %%r14, 48(%0)\n\t"
      "mov %%r15, 56(%0)\n\t"
      :
      : "r"(r)
      : "rax", "memory");
  static_assert(CW_UREG_IP == 0 && CW_UREG_SP == 1 && CW_UREG_BP == 2 && CW_UREG_BX == 3 &&
                CW_UREG_R12 == 4 && CW_UREG_R15 == 7);
  const uint64_t sp = r[CW_UREG_SP];
  const uint64_t top = stack_top();
  const size_t len = top > sp ? std::min<uint64_t>(bytes, top - sp) & ~7ull : 0;
  out->stack.assign(reinterpret_cast<const uint8_t*>(sp),
                    reinterpret_cast<const uint8_t*>(sp) + len);
  std::copy(std::begin(r), std::end(r), out->sample.regs.begin());
  out->sample.stack = out->stack;
  return static_cast<int>(len & 1);
}
__attribute__((noinline, noclone)) int cw_test_level1(Captured* out, size_t bytes) {
  int v = cw_test_capture(out, bytes);
  asm volatile("" ::: "memory");
  return v + 1;
}
__attribute__((noinline, noclone)) int cw_test_level2(Captured* out, size_t bytes) {
  int v = cw_test_level1(out, bytes);
  asm volatile("" ::: "memory");
  return v + 2;
}
__attribute__((noinline, noclone)) int cw_test_level3(Captured* out, size_t bytes) {
  int v = cw_test_level2(out, bytes);
  asm volatile("" ::: "memory");
  return v + 3;
}
// A frame that reserves 3 pages it never writes, as the loader's and libc's start-up frames
// do: in a live process such pages are not present, and BPF reports them as holes.
__attribute__((noinline, noclone)) int cw_test_gap(Captured* out, size_t bytes,
                                                   const char** gap_begin, const char** gap_end) {
  char gap[3 * CW_PAGE_BYTES];
  asm volatile("" : : "r"(gap) : "memory");  // keeps the array without writing it
  *gap_begin = gap;
  *gap_end = gap + sizeof(gap);
  int v = cw_test_level3(out, bytes);
  asm volatile("" ::: "memory");
  return v + 4;
}
}

namespace causeway::capture {
namespace {

// Names the addresses of this process (symbol table; return addresses looked up at pc - 1,
// inside the call instruction).
class SelfSymbols {
 public:
  SelfSymbols() {
    static const Dwfl_Callbacks cb = {.find_elf = dwfl_linux_proc_find_elf,
                                      .find_debuginfo = dwfl_standard_find_debuginfo,
                                      .section_address = nullptr,
                                      .debuginfo_path = nullptr};
    dwfl_ = dwfl_begin(&cb);
    dwfl_report_begin(dwfl_);
    dwfl_linux_proc_report(dwfl_, getpid());
    dwfl_report_end(dwfl_, nullptr, nullptr);
  }
  ~SelfSymbols() { dwfl_end(dwfl_); }
  std::string name(uint64_t pc, bool return_address) const {
    const uint64_t at = return_address ? pc - 1 : pc;
    Dwfl_Module* m = dwfl_addrmodule(dwfl_, at);
    const char* n = m ? dwfl_module_addrname(m, at) : nullptr;
    return n ? n : "?";
  }
  std::vector<std::string> names(const std::vector<uint64_t>& frames) const {
    std::vector<std::string> out;
    for (size_t i = 0; i < frames.size(); i++) out.push_back(name(frames[i], i > 0));
    return out;
  }

 private:
  Dwfl* dwfl_ = nullptr;
};

std::string join(const std::vector<std::string>& v) {
  std::string s;
  for (const auto& x : v) s += "  " + x + "\n";
  return s;
}

int32_t self_tid() {
  return static_cast<int32_t>(gettid());
}

TEST(DwarfUnwinder, UnwindsCodeWithoutFramePointers) {
  Captured c;
  cw_test_level3(&c, CW_USTACK_MAX_BYTES);
  ASSERT_GT(c.stack.size(), 256u);
  DwarfUnwinder unwinder;
  const auto frames = unwinder.unwind(getpid(), self_tid(), c.sample);
  SelfSymbols symbols;
  const auto names = symbols.names(frames);
  ASSERT_GE(names.size(), 5u) << join(names);
  EXPECT_EQ(frames[0], c.sample.regs[CW_UREG_IP]);
  EXPECT_EQ(names[0], "cw_test_capture") << join(names);
  EXPECT_EQ(names[1], "cw_test_level1") << join(names);
  EXPECT_EQ(names[2], "cw_test_level2") << join(names);
  EXPECT_EQ(names[3], "cw_test_level3") << join(names);
  EXPECT_NE(names[4].find("UnwindsCodeWithoutFramePointers"), std::string::npos) << join(names);
  // Through gtest (no frame pointers either) up to main, within 16 KiB of stack.
  EXPECT_NE(std::find(names.begin(), names.end(), "main"), names.end()) << join(names);
  EXPECT_EQ(unwinder.counts().no_process, 0);

  // What a frame-pointer walk of the same copy finds: without frame pointers, %rbp is not a
  // frame chain, so it cannot produce this chain (the reason for --call-graph dwarf).
  std::vector<uint64_t> fp_frames = {c.sample.regs[CW_UREG_IP]};
  const uint64_t base = c.sample.regs[CW_UREG_SP];
  uint64_t fp = c.sample.regs[CW_UREG_BP];
  while (fp_frames.size() < 32 && fp >= base && fp + 16 <= base + c.stack.size() && !(fp & 7)) {
    uint64_t rec[2];
    std::memcpy(rec, c.stack.data() + (fp - base), sizeof(rec));
    fp_frames.push_back(rec[1]);
    if (rec[0] <= fp) break;
    fp = rec[0];
  }
  const auto fp_names = symbols.names(fp_frames);
  const bool fp_has_chain =
      std::find(fp_names.begin(), fp_names.end(), "cw_test_level1") != fp_names.end() &&
      std::find(fp_names.begin(), fp_names.end(), "cw_test_level2") != fp_names.end();
  EXPECT_FALSE(fp_has_chain) << "this file must be built without frame pointers\n"
                             << join(fp_names);
}

TEST(DwarfUnwinder, ShortCopyStopsEarlyWithTheFramesItCovers) {
  Captured full, cut;
  cw_test_level3(&full, CW_USTACK_MAX_BYTES);
  cw_test_level3(&cut, CW_USTACK_MAX_BYTES);
  DwarfUnwinder unwinder;
  const auto all = unwinder.unwind(getpid(), self_tid(), full.sample);
  // Only the innermost 8 bytes: enough for nothing beyond the pc itself.
  cut.sample.stack = std::span<const uint8_t>(cut.stack).first(8);
  const auto few = unwinder.unwind(getpid(), self_tid(), cut.sample);
  ASSERT_FALSE(few.empty());
  EXPECT_LT(few.size(), all.size());
  EXPECT_EQ(few[0], cut.sample.regs[CW_UREG_IP]);
  EXPECT_GE(unwinder.counts().incomplete, 1);
  // No stack at all: the pc, nothing invented.
  cut.sample.stack = {};
  const auto none = unwinder.unwind(getpid(), self_tid(), cut.sample);
  ASSERT_EQ(none.size(), 1u);
}

// Pages BPF could not read (never written, so not present) are zero-filled in the copy and
// flagged in `holes`. A hole the unwind does not need changes nothing; a hole over a frame's
// return address ends the unwind there, honestly, instead of reading the zeros as data.
TEST(DwarfUnwinder, HolesAreUnreadableAndOnlyMatterWhereAFrameLies) {
  Captured c;
  const char* gap_begin = nullptr;
  const char* gap_end = nullptr;
  cw_test_gap(&c, CW_USTACK_MAX_BYTES, &gap_begin, &gap_end);
  const uint64_t sp = c.sample.regs[CW_UREG_SP];
  const uint64_t first_page = sp / CW_PAGE_BYTES;
  DwarfUnwinder unwinder;
  SelfSymbols symbols;
  const auto all = symbols.names(unwinder.unwind(getpid(), self_tid(), c.sample));
  const auto has = [](const std::vector<std::string>& names, const std::string& part) {
    return std::any_of(names.begin(), names.end(),
                       [&](const std::string& n) { return n.find(part) != std::string::npos; });
  };
  ASSERT_TRUE(has(all, "cw_test_gap") && has(all, "HolesAreUnreadable")) << join(all);

  // A page wholly inside the unwritten array: zeroed and flagged, the unwind is the same.
  const uint64_t page = (reinterpret_cast<uint64_t>(gap_begin) + CW_PAGE_BYTES - 1) / CW_PAGE_BYTES;
  ASSERT_LE((page + 1) * CW_PAGE_BYTES, reinterpret_cast<uint64_t>(gap_end));
  ASSERT_GE(page, first_page + 1);
  ASSERT_LT((page + 1) * CW_PAGE_BYTES, sp + c.stack.size()) << "copy too short for the test";
  Captured holed = c;
  std::fill_n(holed.stack.begin() + static_cast<std::ptrdiff_t>(page * CW_PAGE_BYTES - sp),
              CW_PAGE_BYTES, 0);
  holed.sample.stack = holed.stack;
  holed.sample.holes = 1u << (page - first_page);
  EXPECT_EQ(symbols.names(unwinder.unwind(getpid(), self_tid(), holed.sample)), all);

  // The page holding cw_test_gap's return address into the test body: the unwind ends at
  // cw_test_gap, short of the test body, and is counted incomplete.
  const auto frames = unwinder.unwind(getpid(), self_tid(), c.sample);
  size_t gap_frame = 0;
  while (gap_frame < frames.size() &&
         symbols.name(frames[gap_frame], gap_frame > 0) != "cw_test_gap")
    gap_frame++;
  ASSERT_LT(gap_frame + 1, frames.size());
  const uint64_t ret = frames[gap_frame + 1];
  size_t slot = 0;
  while (slot + 8 <= c.stack.size() && std::memcmp(c.stack.data() + slot, &ret, 8) != 0) slot += 8;
  ASSERT_LE(slot + 8, c.stack.size()) << "return address not found in the copy";
  Captured cut = c;
  cut.sample.stack = cut.stack;
  cut.sample.holes = 1u << ((sp + slot) / CW_PAGE_BYTES - first_page);
  const int64_t incomplete = unwinder.counts().incomplete;
  const auto short_names = symbols.names(unwinder.unwind(getpid(), self_tid(), cut.sample));
  EXPECT_TRUE(has(short_names, "cw_test_level3")) << join(short_names);
  EXPECT_FALSE(has(short_names, "HolesAreUnreadable")) << join(short_names);
  EXPECT_EQ(unwinder.counts().incomplete, incomplete + 1);
}

TEST(DwarfUnwinder, UnknownProcessGivesNothing) {
  Captured c;
  cw_test_level3(&c, 4096);
  DwarfUnwinder unwinder;
  // Pid 0 has no /proc/0/maps, and no mappings were noted for it.
  EXPECT_TRUE(unwinder.unwind(0, 0, c.sample).empty());
  EXPECT_EQ(unwinder.counts().no_process, 1);
}

TEST(DwarfUnwinder, NotedMappingsAreUsedAndForgotten) {
  Captured c;
  cw_test_level3(&c, CW_USTACK_MAX_BYTES);
  auto maps = read_maps(getpid());
  ASSERT_TRUE(maps.ok());
  DwarfUnwinder unwinder;
  // Given as capture gives them, under a pid /proc does not know: only the noted mappings
  // can have been used.
  const int32_t fake_pid = 0;
  unwinder.note_maps(fake_pid, maps.value());
  unwinder.note_maps(fake_pid, maps.value());  // unchanged: not re-reported
  EXPECT_EQ(unwinder.counts().refreshes, 1);
  const auto frames = unwinder.unwind(fake_pid, self_tid(), c.sample);
  EXPECT_GE(frames.size(), 5u);
  unwinder.forget(fake_pid);
  EXPECT_TRUE(unwinder.unwind(fake_pid, self_tid(), c.sample).empty());
}

TEST(DwarfUnwinder, ChooseStackPrefersDwarfUnlessTheWalkExtendsIt) {
  const std::vector<uint64_t> fp = {10, 11, 12, 13};
  const std::vector<uint64_t> longer = {10, 11, 99, 98, 97};
  EXPECT_EQ(choose_stack(fp, longer).data(), longer.data());
  const std::vector<uint64_t> shorter_other = {10, 11, 99};  // disagrees: the walk went astray
  EXPECT_EQ(choose_stack(fp, shorter_other).data(), shorter_other.data());
  const std::vector<uint64_t> prefix = {10, 11};
  EXPECT_EQ(choose_stack(fp, prefix).size(), 4u);  // the walk agrees and goes further
  const std::vector<uint64_t> disagree = {10, 55};
  EXPECT_EQ(choose_stack(fp, disagree).data(), disagree.data());
  const std::vector<uint64_t> nothing = {10};
  EXPECT_EQ(choose_stack(fp, nothing).data(), fp.data());
}

// Records only what the decoder hands the sink for stacks and CUDA calls.
class StackSink final : public RowSink {
 public:
  store::StringId intern(std::string_view s) override {
    auto [it, fresh] = strings.emplace(std::string(s), strings.size() + 1);
    (void)fresh;
    return static_cast<store::StringId>(it->second);
  }
  store::StackId intern_stack(int32_t, std::span<const uint64_t> frames) override {
    stacks.emplace_back(frames.begin(), frames.end());
    return static_cast<store::StackId>(stacks.size());
  }
  Result<store::RowId> add(const store::CudaCallRow& r) override {
    cuda.push_back(r);
    return static_cast<store::RowId>(cuda.size());
  }
  Result<store::RowId> add(const store::ThreadStateRow&) override { return store::RowId{1}; }
  Result<store::RowId> add(const store::WakeupRow&) override { return store::RowId{1}; }
  Result<store::RowId> add(const store::SyscallRow&) override { return store::RowId{1}; }
  Result<store::RowId> add(const store::BlockIoRow&) override { return store::RowId{1}; }
  Result<store::RowId> add(const store::ProcessEventRow&) override { return store::RowId{1}; }
  Status note_thread(const store::ThreadInfo&) override { return Status::Ok(); }
  Status note_process(const store::ProcessInfo&) override { return Status::Ok(); }
  Status note_mapping(const store::MappingInfo&) override { return Status::Ok(); }

  std::map<std::string, size_t> strings;
  std::vector<std::vector<uint64_t>> stacks;
  std::vector<store::CudaCallRow> cuda;
};

std::vector<uint8_t> user_stack_record(const Captured& c, uint64_t ts, uint8_t holes = 0) {
  cw_user_stack head{};
  head.holes = holes;
  head.h.kind = CW_EV_USER_STACK;
  head.h.ts_ns = ts;
  head.h.pid = static_cast<uint32_t>(getpid());
  head.h.tid = static_cast<uint32_t>(self_tid());
  head.trigger = CW_STACK_FOR_CUDA;
  head.size = static_cast<uint32_t>(c.stack.size());
  std::copy(c.sample.regs.begin(), c.sample.regs.end(), head.regs);
  constexpr size_t fixed = offsetof(cw_user_stack, data);
  std::vector<uint8_t> rec(fixed + c.stack.size());
  std::memcpy(rec.data(), &head, fixed);
  std::memcpy(rec.data() + fixed, c.stack.data(), c.stack.size());
  return rec;
}

std::vector<uint8_t> cuda_record(uint64_t ts, uint64_t fp_frame0) {
  cw_cuda_call e{};
  e.h.kind = CW_EV_CUDA_CALL;
  e.h.ts_ns = ts;
  e.h.pid = static_cast<uint32_t>(getpid());
  e.h.tid = static_cast<uint32_t>(self_tid());
  e.dur_ns = 5;
  e.func_id = CudaFunctionTable::builtin().by_name("cudaGetDevice")->id;
  e.stack_depth = 1;  // a frame-pointer walk that stopped at once
  e.stack[0] = fp_frame0;
  const size_t size = sizeof(e) - sizeof(e.stack) + 8;
  const auto* p = reinterpret_cast<const uint8_t*>(&e);
  return std::vector<uint8_t>(p, p + size);
}

TEST(DwarfStacks, DecoderStoresTheUnwoundStackOfItsCall) {
  Captured c;
  cw_test_level3(&c, CW_USTACK_MAX_BYTES);
  DwarfUnwinder unwinder;
  DwarfStacks dwarf(unwinder);
  StackSink sink;
  DecoderOptions o;
  o.dwarf = &dwarf;
  Decoder decoder(sink, CudaFunctionTable::builtin(), o);
  const uint64_t pc = c.sample.regs[CW_UREG_IP];
  ASSERT_TRUE(decoder.ingest(user_stack_record(c, 1000)).ok());
  ASSERT_TRUE(decoder.ingest(cuda_record(2000, pc)).ok());  // another call: its own stack
  ASSERT_TRUE(decoder.ingest(cuda_record(1000, pc)).ok());  // the call the record belongs to
  ASSERT_EQ(sink.cuda.size(), 2u);
  ASSERT_EQ(sink.stacks.size(), 2u);
  EXPECT_EQ(sink.stacks[0], std::vector<uint64_t>{pc});
  const auto names = SelfSymbols().names(sink.stacks[1]);
  ASSERT_GE(names.size(), 4u) << join(names);
  EXPECT_EQ(names[3], "cw_test_level3") << join(names);
  EXPECT_EQ(dwarf.counts().records, 1);
  EXPECT_EQ(dwarf.counts().unwound, 1);
  EXPECT_EQ(dwarf.counts().attached, 1);
  // Claimed once only.
  std::vector<uint64_t> again;
  EXPECT_FALSE(dwarf.take(self_tid(), 1000, &again));
}

TEST(DwarfStacks, HolesInARecordReachTheUnwinderAndAreCounted) {
  Captured c;
  cw_test_level3(&c, CW_USTACK_MAX_BYTES);
  DwarfUnwinder unwinder;
  DwarfStacks dwarf(unwinder);
  ASSERT_TRUE(dwarf.ingest(user_stack_record(c, 8)).ok());
  std::vector<uint64_t> whole;
  ASSERT_TRUE(dwarf.take(self_tid(), 8, &whole));
  ASSERT_GE(whole.size(), 5u);
  // The page holding the return address into the test body (frame 4), flagged in the record:
  // the unwind ends before that frame.
  const uint64_t sp = c.sample.regs[CW_UREG_SP];
  size_t slot = 0;
  while (slot + 8 <= c.stack.size() && std::memcmp(c.stack.data() + slot, &whole[4], 8) != 0)
    slot += 8;
  ASSERT_LE(slot + 8, c.stack.size()) << "return address not found in the copy";
  const auto bit = static_cast<uint8_t>(1u << ((sp + slot) / CW_PAGE_BYTES - sp / CW_PAGE_BYTES));
  ASSERT_TRUE(dwarf.ingest(user_stack_record(c, 7, bit)).ok());
  EXPECT_EQ(dwarf.counts().with_holes, 1);
  std::vector<uint64_t> holed;
  ASSERT_TRUE(dwarf.take(self_tid(), 7, &holed));
  ASSERT_FALSE(holed.empty());
  EXPECT_LE(holed.size(), 4u);
  EXPECT_TRUE(std::equal(holed.begin(), holed.end(), whole.begin()));
}

TEST(DwarfStacks, MalformedRecordsAreCountedNotTrusted) {
  Captured c;
  cw_test_level3(&c, 1024);
  DwarfUnwinder unwinder;
  DwarfStacks dwarf(unwinder);
  auto rec = user_stack_record(c, 1);
  rec.resize(rec.size() - 8);  // says `size` bytes, carries fewer
  ASSERT_TRUE(dwarf.ingest(rec).ok());
  rec.resize(10);  // not even a header
  ASSERT_TRUE(dwarf.ingest(rec).ok());
  EXPECT_EQ(dwarf.counts().malformed, 2);
  std::vector<uint64_t> frames;
  EXPECT_FALSE(dwarf.take(self_tid(), 1, &frames));
}

}  // namespace
}  // namespace causeway::capture
