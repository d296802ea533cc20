#include "capture/dwarf_unwinder.h"

#include <dwarf.h>
#include <elfutils/libdwfl.h>

#include <algorithm>
#include <cinttypes>
#include <cstddef>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <string>

namespace causeway::capture {
namespace {

int64_t monotonic_ns() {
  timespec ts{};
  clock_gettime(CLOCK_MONOTONIC, &ts);
  return static_cast<int64_t>(ts.tv_sec) * 1'000'000'000 + ts.tv_nsec;
}

// How often a process's /proc/PID/maps may be re-read because a pc lay in no known module.
constexpr int64_t kProcRefreshNs = 100'000'000;

// Pending frames kept per thread before the oldest are dropped as unclaimed: BPF keeps at
// most 4 CUDA calls in flight per thread, plus one blocking switch.
constexpr size_t kMaxPendingPerThread = 8;

// x86-64 DWARF register numbers (System V psABI, figure 3.36) of the registers BPF copies.
constexpr int kDwarfRbx = 3, kDwarfRbp = 6, kDwarfRsp = 7, kDwarfR12 = 12, kDwarfR13 = 13,
              kDwarfR14 = 14, kDwarfR15 = 15;

// CFI comes from .eh_frame, which is in the loaded file itself. Separate debug info (and with
// it .debug_frame, and debuginfod downloads) is not looked for: it would cost file-system
// searches or network requests in the middle of capture for the rare binary without
// .eh_frame.
int no_debuginfo(Dwfl_Module*, void**, const char*, Dwarf_Addr, const char*, const char*, GElf_Word,
                 char**) {
  return -1;
}

const Dwfl_Callbacks kDwflCallbacks = {
    .find_elf = dwfl_linux_proc_find_elf,
    .find_debuginfo = no_debuginfo,
    .section_address = dwfl_offline_section_address,
    .debuginfo_path = nullptr,
};

// The text of /proc/PID/maps for the file mappings in `maps`, which is what
// dwfl_linux_proc_maps_report parses (it works out each module's load address from them).
// The device is not known here and not needed; a non-zero one marks the line as a file.
std::string maps_text(const std::vector<Mapping>& maps) {
  std::string out;
  char line[128];
  for (const auto& m : maps) {
    if (m.path.empty() || m.path[0] != '/' || m.inode == 0) continue;
    std::snprintf(line, sizeof(line), "%" PRIx64 "-%" PRIx64 " %s %08" PRIx64 " 00:01 %" PRIu64 " ",
                  m.start, m.end, m.perms.empty() ? "r--p" : m.perms.c_str(), m.offset, m.inode);
    out += line;
    out += m.path;
    out += '\n';
  }
  return out;
}

}  // namespace

// One traced process: its Dwfl (modules = its mapped files) and, while unwind() runs, the
// sample libdwfl's callbacks serve registers and memory from.
struct DwarfUnwinder::Process {
  int32_t pid = 0;
  Dwfl* dwfl = nullptr;
  bool attached = false;
  std::string maps;          // the mappings last reported (maps_text)
  int64_t proc_read_ns = 0;  // when /proc/PID/maps was last read by unwind()
  const StackSample* sample = nullptr;
  std::vector<uint64_t>* frames = nullptr;
  size_t max_frames = 0;
  bool read_outside = false;  // the unwind wanted stack memory beyond the copy

  ~Process() {
    if (dwfl) dwfl_end(dwfl);
  }

  // Whether any of the 8 bytes at addr (inside the copy) lie in a page BPF could not read.
  static bool in_hole(const StackSample& s, uint64_t addr) {
    if (s.holes == 0) return false;
    const uint64_t first_page = s.regs[CW_UREG_SP] / CW_PAGE_BYTES;
    for (const uint64_t a : {addr, addr + 7}) {
      const uint64_t i = a / CW_PAGE_BYTES - first_page;
      if (i < 32 && (s.holes >> i) & 1u) return true;
    }
    return false;
  }

  // libdwfl's thread callbacks: one "thread" per unwind() call, whose state is the sample.
  static pid_t next_thread(Dwfl*, void*, void**) { return 0; }  // nothing to enumerate
  static bool get_thread(Dwfl*, pid_t, void* dwfl_arg, void** thread_argp) {
    *thread_argp = dwfl_arg;
    return true;
  }
  // Only the copied slice is readable: CFI unwinding needs saved registers and return
  // addresses, which lie on the stack. A read beyond the slice ends the unwind there.
  static bool memory_read(Dwfl*, Dwarf_Addr addr, Dwarf_Word* result, void* dwfl_arg) {
    const auto* self = static_cast<const Process*>(dwfl_arg);
    const StackSample* s = self->sample;
    if (!s) return false;
    const uint64_t base = s->regs[CW_UREG_SP];
    if (addr < base || addr - base > s->stack.size() || s->stack.size() - (addr - base) < 8 ||
        in_hole(*s, addr)) {
      const_cast<Process*>(self)->read_outside = true;
      return false;
    }
    uint64_t v = 0;
    std::memcpy(&v, s->stack.data() + (addr - base), sizeof(v));
    *result = v;
    return true;
  }
  static bool set_initial_registers(Dwfl_Thread* thread, void* thread_arg) {
    const auto* self = static_cast<const Process*>(thread_arg);
    const StackSample* s = self->sample;
    if (!s) return false;
    const auto& r = s->regs;
    const std::pair<int, uint64_t> regs[] = {
        {kDwarfRbx, r[CW_UREG_BX]},  {kDwarfRbp, r[CW_UREG_BP]},  {kDwarfRsp, r[CW_UREG_SP]},
        {kDwarfR12, r[CW_UREG_R12]}, {kDwarfR13, r[CW_UREG_R13]}, {kDwarfR14, r[CW_UREG_R14]},
        {kDwarfR15, r[CW_UREG_R15]},
    };
    for (const auto& [regno, value] : regs) {
      const Dwarf_Word w = value;
      if (!dwfl_thread_state_registers(thread, regno, 1, &w)) return false;
    }
    dwfl_thread_state_register_pc(thread, r[CW_UREG_IP]);
    return true;
  }
  static const Dwfl_Thread_Callbacks kCallbacks;

  static int on_frame(Dwfl_Frame* frame, void* arg) {
    auto* self = static_cast<Process*>(arg);
    Dwarf_Addr pc = 0;
    bool activation = false;
    if (!dwfl_frame_pc(frame, &pc, &activation) || pc == 0) return DWARF_CB_ABORT;
    self->frames->push_back(pc);
    return self->frames->size() >= self->max_frames ? DWARF_CB_ABORT : DWARF_CB_OK;
  }
};

const Dwfl_Thread_Callbacks DwarfUnwinder::Process::kCallbacks = {
    .next_thread = next_thread,
    .get_thread = get_thread,
    .memory_read = memory_read,
    .set_initial_registers = set_initial_registers,
    .detach = nullptr,
    .thread_detach = nullptr,
};

DwarfUnwinder::DwarfUnwinder() = default;
DwarfUnwinder::~DwarfUnwinder() = default;

DwarfUnwinder::Process* DwarfUnwinder::refresh(int32_t pid, const std::vector<Mapping>& maps) {
  std::string text = maps_text(maps);
  auto& slot = processes_[pid];
  if (!slot) {
    slot = std::make_unique<Process>();
    slot->pid = pid;
    slot->dwfl = dwfl_begin(&kDwflCallbacks);
  }
  Process* p = slot.get();
  if (!p->dwfl || text.empty() || text == p->maps) return p;
  counts_.refreshes++;
  // Re-reporting keeps the modules that are still there (same file, same place) with their
  // opened ELF and parsed CFI; others are dropped at dwfl_report_end.
  dwfl_report_begin(p->dwfl);
  if (FILE* f = fmemopen(text.data(), text.size(), "r")) {
    (void)dwfl_linux_proc_maps_report(p->dwfl, f);
    std::fclose(f);
  }
  dwfl_report_end(p->dwfl, nullptr, nullptr);
  p->maps = std::move(text);
  // The unwinder state needs the architecture, which dwfl_attach_state takes from the first
  // module whose ELF file it can open: retried after each report until it succeeds.
  if (!p->attached) p->attached = dwfl_attach_state(p->dwfl, nullptr, pid, &Process::kCallbacks, p);
  return p;
}

DwarfUnwinder::Process* DwarfUnwinder::refresh_from_proc(int32_t pid, int64_t now_ns) {
  auto it = processes_.find(pid);
  if (it != processes_.end()) {
    if (now_ns - it->second->proc_read_ns < kProcRefreshNs) return it->second.get();
  }
  auto maps = read_maps(pid);
  if (!maps.ok()) return it != processes_.end() ? it->second.get() : nullptr;
  Process* p = refresh(pid, maps.value());
  p->proc_read_ns = now_ns;
  return p;
}

void DwarfUnwinder::note_maps(int32_t pid, const std::vector<Mapping>& maps) {
  (void)refresh(pid, maps);
}

void DwarfUnwinder::forget(int32_t pid) {
  processes_.erase(pid);
}

std::vector<uint64_t> DwarfUnwinder::unwind(int32_t pid, int32_t tid, const StackSample& sample,
                                            size_t max_frames) {
  counts_.unwinds++;
  std::vector<uint64_t> frames;
  if (max_frames == 0) return frames;
  auto it = processes_.find(pid);
  Process* p = it != processes_.end() ? it->second.get() : nullptr;
  if (!p || !p->attached || !dwfl_addrmodule(p->dwfl, sample.regs[CW_UREG_IP])) {
    // Not known yet, or the pc is in a library loaded since the mappings were last given.
    Process* fresh = refresh_from_proc(pid, monotonic_ns());
    if (fresh) p = fresh;
  }
  if (!p || !p->attached) {
    counts_.no_process++;
    return frames;
  }
  p->sample = &sample;
  p->frames = &frames;
  p->max_frames = max_frames;
  p->read_outside = false;
  // -1: an error ended the unwind (no CFI for a pc and no frame-pointer fallback, ...). An
  // unwind that needed memory beyond the copy also ends, sometimes without an error: both are
  // incomplete. Not counted: reaching the outermost frame, or max_frames.
  const int rc = dwfl_getthread_frames(p->dwfl, tid, Process::on_frame, p);
  p->sample = nullptr;
  p->frames = nullptr;
  if ((rc == -1 || p->read_outside) && frames.size() < max_frames) counts_.incomplete++;
  counts_.frames += static_cast<int64_t>(frames.size());
  return frames;
}

Status DwarfStacks::ingest(std::span<const uint8_t> record) {
  counts_.records++;
  constexpr size_t fixed = offsetof(cw_user_stack, data);
  if (record.size() < fixed) {
    counts_.malformed++;
    return Status::Ok();
  }
  // The record may sit unaligned in the ring's buffer: copy the fixed part out.
  cw_user_stack head;
  std::memcpy(&head, record.data(), fixed);
  if (head.size > CW_USTACK_MAX_BYTES || record.size() - fixed < head.size) {
    counts_.malformed++;
    return Status::Ok();
  }
  StackSample sample;
  std::copy(std::begin(head.regs), std::end(head.regs), sample.regs.begin());
  sample.stack = record.subspan(fixed, head.size);
  sample.holes = head.holes;
  if (head.holes) counts_.with_holes++;
  const auto pid = static_cast<int32_t>(head.h.pid), tid = static_cast<int32_t>(head.h.tid);
  std::vector<uint64_t> frames = unwinder_.unwind(pid, tid, sample);
  if (frames.size() >= 2) counts_.unwound++;
  auto& list = pending_[tid];
  if (list.size() >= kMaxPendingPerThread) {
    list.erase(list.begin());
    counts_.unclaimed++;
  }
  list.push_back(Pending{static_cast<int64_t>(head.h.ts_ns), std::move(frames)});
  return Status::Ok();
}

bool DwarfStacks::take(int32_t tid, int64_t ts_ns, std::vector<uint64_t>* frames) {
  auto it = pending_.find(tid);
  if (it == pending_.end()) return false;
  auto& list = it->second;
  // Innermost (latest) first: a nested call's record is claimed before its caller's.
  for (size_t i = list.size(); i-- > 0;) {
    if (list[i].ts_ns != ts_ns) continue;
    *frames = std::move(list[i].frames);
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));
    if (list.empty()) pending_.erase(it);
    counts_.attached++;
    return true;
  }
  return false;
}

std::span<const uint64_t> choose_stack(std::span<const uint64_t> fp,
                                       std::span<const uint64_t> dwarf) {
  if (dwarf.size() < 2) return fp;
  if (fp.size() > dwarf.size() && std::equal(dwarf.begin(), dwarf.end(), fp.begin())) return fp;
  return dwarf;
}

}  // namespace causeway::capture
