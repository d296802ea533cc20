// Internal to src/analyze: shared helpers of the chain detectors (chains.cpp, detect_*.cpp).
// Thread-safety: none; one Analyzer per compute_chains() call.
#pragma once

#include <map>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "analyze/chains.h"
#include "analyze/decompose.h"
#include "analyze/trace_data.h"

namespace causeway::analyze::detail {

// The top-level CUDA calls of one thread and its active span.
struct ThreadCalls {
  int32_t thread = -1;
  std::vector<const Call*> calls;  // top-level, in time order
  int64_t span_start = 0;
  int64_t span_end = 0;
  int64_t span() const { return span_end - span_start; }
  bool launches = false;  // issues kernels or copies: its idle gaps starve the GPU
};

struct Context {
  TraceData& data;
  const ExplainOptions& opts;
  // Page-locked host ranges [lo, hi) per pid, built on first use (detect_pageable_copy.cpp).
  std::map<int32_t, std::vector<std::pair<uint64_t, uint64_t>>> pinned;
  bool pinned_built = false;

  TaskRef task(int32_t thread) const;
  // "decode (pid 4121, tid 4133)"
  std::string who(int32_t thread) const;
  // "\"backup\" (pid 812)" for a culprit (thread name, and the process name when it differs)
  std::string culprit_phrase(int32_t thread) const;
  const FunctionInfo& fn(const Call& c) const { return data.functions[static_cast<size_t>(c.fn)]; }
  // Severity from impact and its share of the subject's active span.
  std::string severity(int64_t impact_ns, int64_t span_ns) const;
  // Copies decomposition totals, top preempters/blocked shares into `chain`.
  void fill_breakdown(Chain& chain, const Decomposition& d) const;
  void add_waker_chain(Chain& chain, const std::vector<WakerHop>& hops) const;
  // Fills impact_share/thread_share/severity from impact_ns.
  void finish(Chain& chain, int64_t span_ns) const;
};

// Where the time of `d` went, largest first, as a clause list with shares and culprits.
std::string breakdown_sentence(const Context& ctx, const Decomposition& d);

// "task", "interrupt", "timer", or "" when unknown (BlockedShare::woken_by).
const char* wake_word(WakeKind w);
// Who held the CPU in a runnable share: a culprit phrase, "the CPU idle", "an unrecorded holder".
std::string holder_phrase(const Context& ctx, const PreemptShare& p);
// Runnable time of `d` during which the recorder held the CPU: its overhead.
int64_t runnable_behind_recorder(const TraceData& data, const Decomposition& d);

std::string percent(double fraction);   // "34%"
std::string ratio(double r);            // "6.8x"
std::string bytes_text(int64_t bytes);  // "64.0 MiB"

// What a thread-level detector sees of one CUDA-issuing thread, computed once by the
// analyzer (chains.cpp) while it walks the thread's calls and gaps.
struct ThreadFacts {
  const ThreadCalls& tc;
  const Decomposition& all;        // the whole active span, call by call and gap by gap
  const Decomposition& gap_waits;  // only the gaps in which it waited on another thread
  int64_t gaps = 0;                // gaps between its top-level calls
  int64_t gaps_with_wait = 0;      // ... in which another thread ended a wait of it
  int64_t waited_ns = 0;           // lock/wait time in gaps ended by another thread
  bool recurrent = false;          // those waits come back step after step at one loop position
};

// One category of finding. A detector appends zero or more chains to `out` and returns true
// when the waits it explains must not be reported again by later detectors of the thread.
class Detector {
 public:
  virtual ~Detector() = default;
  virtual const char* category() const = 0;
  virtual bool detect(Context& ctx, const ThreadFacts& facts, std::vector<Chain>& out) = 0;
};

// peer_wait (detect_peer_wait.cpp): waits ended by a thread of another traced process.
std::unique_ptr<Detector> make_peer_wait_detector();
// Whether `other` is a thread of another traced process than `self`'s (not the recorder, not
// a GPU agent): a peer that `self` exchanges data with, never its data loader.
bool is_peer_thread(const TraceData& d, int32_t self, int32_t other);

// Thread-level findings, one file each (detect_<category>.cpp), run in this order by the
// analyzer (chains.cpp); peer_wait and data_loader claim the thread's waits (detect returns
// true), so no lock or I/O finding repeats that time.
std::unique_ptr<Detector> make_cpu_contention_detector();
std::unique_ptr<Detector> make_cpu_throttling_detector();
// gil_wait: waits for a Python GIL, named for the thread that held it.
std::unique_ptr<Detector> make_gil_wait_detector();
std::unique_ptr<Detector> make_data_loader_detector();
std::unique_ptr<Detector> make_blocked_io_detector();
std::unique_ptr<Detector> make_lock_wait_detector();

// The CPU quota that explains the thread's runnable time (its CPU sat idle most of it and no
// task held it longer, while a quota over its process throttled it), or null
// (detect_cpu_throttling.cpp; cpu_contention defers to it).
const TraceData::Throttle* quota_throttled(const Context& ctx, const ThreadFacts& f);
// Evidence of the top CPU holders of a runnable decomposition (detect_cpu_contention.cpp).
void add_runnable_evidence(Chain& c, const Decomposition& d);
// A thread-level chain about f's thread over its active span: kind, category, subject, impact,
// window and the breakdown of `breakdown` (f.all when null) filled (chains.cpp); the detector
// adds the rest.
Chain thread_chain(const Context& ctx, const ThreadFacts& f, const char* category,
                   int64_t impact_ns, const Decomposition* breakdown = nullptr);
// Shared by blocked_io and lock_wait (detect_blocked_io.cpp): the largest blocked share of a
// cause (null when none), a thread chain whose occurrences are the waits of that cause, and the
// evidence of a share (its largest interval, syscall, I/O request).
const BlockShare* largest_share(const Decomposition& d, BlockCause cause);
Chain blocked_chain(const Context& ctx, const ThreadFacts& f, const char* category,
                    BlockCause cause, int64_t impact_ns);
void add_blocked_evidence(Chain& c, const BlockShare& b);
// The fix text of a category for `subject`, given its culprit, waker chain and decomposition
// (chains.cpp).
std::string recommendation_for(const Context& ctx, const std::string& category, int32_t subject,
                               int32_t culprit, const std::vector<WakerHop>& hops,
                               const Decomposition& d);

// Pipeline-pattern detectors, one file each (detect_<category>.cpp). Each appends zero or more
// chains about the thread and never claims its waits (detect returns false).
std::unique_ptr<Detector> make_host_sync_detector();
std::unique_ptr<Detector> make_allocator_churn_detector();
std::unique_ptr<Detector> make_pageable_copy_detector();
std::unique_ptr<Detector> make_phase_shift_detector();

// Shared by the detectors (chains.cpp).
// Whether `ns` is worth a finding: >= opts.min_impact_ns and >= opts.min_share of `span`.
bool significant(const Context& ctx, int64_t ns, int64_t span);
std::string seconds(int64_t ns);            // "1.25 s"
int64_t median_of(std::vector<int64_t> v);  // 0 when empty

}  // namespace causeway::analyze::detail
