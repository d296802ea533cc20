#include "capture/python_stacks.h"

#include <cstring>

#include "causeway/abi/events.h"

namespace causeway::capture {
namespace {

constexpr size_t kMaxPendingPerThread = 16;  // deeper nesting than this is not real
constexpr size_t kMaxRawStacks = 1 << 18;    // bound on the raw-stack cache

}  // namespace

Status PythonStacks::ingest(std::span<const uint8_t> rec) {
  counts_.records++;
  constexpr size_t fixed = offsetof(cw_py_stack, frames);
  if (rec.size() < fixed) {
    counts_.malformed++;
    return Status::Ok();
  }
  cw_py_stack head;
  std::memcpy(&head, rec.data(), fixed);
  const uint32_t depth = head.depth;
  if (depth == 0 || depth > CW_PY_MAX_FRAMES || rec.size() < fixed + depth * sizeof(cw_py_frame)) {
    counts_.malformed++;
    return Status::Ok();
  }
  const auto pid = static_cast<int32_t>(head.h.pid), tid = static_cast<int32_t>(head.h.tid);
  const bool truncated = (head.flags & CW_PY_TRUNCATED) != 0;
  if (truncated) counts_.truncated++;
  // A process the resolver does not know (forgotten at exit or exec, records still in
  // flight) has nothing to resolve against: no stack, and nothing cached under its pid.
  if (!resolver_.knows(pid)) return Status::Ok();
  const uint8_t* raw = rec.data() + fixed;
  const size_t raw_bytes = depth * sizeof(cw_py_frame);

  // The per-event path: one hash lookup of the raw record; no allocation once the buffer
  // has grown.
  key_.assign(reinterpret_cast<const char*>(&pid), sizeof pid);
  key_.append(reinterpret_cast<const char*>(&head.entry_mask), sizeof head.entry_mask);
  key_.push_back(truncated ? 't' : '-');
  key_.append(reinterpret_cast<const char*>(raw), raw_bytes);
  store::StackId id = 0;
  auto it = by_raw_.find(key_);
  if (it != by_raw_.end()) {
    id = it->second;
  } else {
    std::vector<cw_py_frame> frames(depth);
    std::memcpy(frames.data(), raw, raw_bytes);
    std::vector<store::PyFrameRow> rows = resolver_.resolve(pid, frames, head.entry_mask);
    if (truncated && !rows.empty()) {
      store::PyFrameRow more;
      more.function =
          "<truncated: outer frames beyond " + std::to_string(CW_PY_MAX_FRAMES) + " not captured>";
      rows.push_back(std::move(more));
    }
    counts_.resolved++;
    id = sink_.intern_py_stack(pid, rows);
    // A code object was found replaced at its address: raw stacks remembered with the old
    // one would name it for the new one, so they go (rare: code freed while others run).
    if (by_raw_.size() >= kMaxRawStacks || resolver_.code_objects_replaced() != replaced_seen_) {
      by_raw_.clear();
      replaced_seen_ = resolver_.code_objects_replaced();
    }
    by_raw_.emplace(key_, id);
  }
  if (id == 0) return Status::Ok();
  auto slot = pending_.find(tid);
  if (slot == pending_.end()) {
    if (pending_.size() >= kMaxPendingThreads) trim_pending();
    slot = pending_.emplace(tid, std::vector<Pending>{}).first;
  }
  auto& list = slot->second;
  if (list.size() >= kMaxPendingPerThread) {
    list.erase(list.begin());
    counts_.unclaimed++;
  }
  list.push_back({static_cast<int64_t>(head.h.ts_ns), id});
  return Status::Ok();
}

void PythonStacks::trim_pending() {
  std::erase_if(pending_, [](const auto& entry) { return entry.second.empty(); });
  // Amortised: at least half the bound of new threads before the next trim.
  if (pending_.size() < kMaxPendingThreads / 2) return;
  for (const auto& [tid, list] : pending_) counts_.unclaimed += static_cast<int64_t>(list.size());
  pending_.clear();
}

store::StackId PythonStacks::take(int32_t tid, int64_t ts_ns) {
  auto it = pending_.find(tid);
  if (it == pending_.end()) return 0;
  auto& list = it->second;
  for (size_t i = 0; i < list.size(); i++) {
    if (list[i].ts_ns != ts_ns) continue;
    const store::StackId id = list[i].id;
    list.erase(list.begin() + static_cast<std::ptrdiff_t>(i));  // the thread's entry stays
    counts_.attached++;
    return id;
  }
  return 0;
}

void PythonStacks::forget_process(int32_t pid) {
  // Only processes the resolver knows have raw stacks cached (see ingest()). Theirs must not
  // be matched by a later image under the same pid; their exits are rare next to events, so
  // the whole cache goes. Other processes' exits and execs leave it alone.
  if (resolver_.knows(pid)) {
    resolver_.forget_process(pid);
    by_raw_.clear();
  }
  if (exit_hook_) exit_hook_(pid);
}

}  // namespace causeway::capture
