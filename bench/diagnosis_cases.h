// Generated diagnosis cases with known answers: each case is drawn from a seed, runs
// build/sim/scenario_generated under `causeway trace`, and knows what `causeway explain` should
// put first (or that it should raise no high-severity chain). Shared by the accuracy benchmark
// (bench/diagnosis_accuracy.cpp) and its CI subset (tests/privileged/diagnosis_cases_test.cpp).
#pragma once

#include <cstdint>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <vector>

namespace causeway::bench {

enum class Family { kContention, kLock, kMultihop, kLoader, kRanks, kTimeout, kQuota, kGil };

// Every family, in report order.
const std::vector<Family>& all_families();
// Stable name used in case ids, reports and --family filters ("contention", "lock", ...).
std::string family_name(Family family);

// One acceptable top chain: its category and culprit. An empty culprit_comm means the culprit is
// not checked (categories whose culprit is the subject itself, or nobody).
struct Accept {
  std::string category;
  std::string culprit_comm;
  bool comm_is_prefix = false;   // "ldr-" matches ldr-0, ldr-1, ...
  bool culprit_outside = false;  // the culprit is the driver's untraced spinner: pid must match
  std::string waker_comm;        // non-empty: a task of this name must be in the waker chain
};

enum class Expect {
  kTopChain,  // the top chain matches one of `accept` and is not low severity
  kNoHigh,    // no chain of severity high
  kNoBlame,   // no high chain names a culprit other than its own subject thread
};

struct Case {
  std::string id;  // "<family>-<seed>", unique for a seed
  Family family = Family::kContention;
  bool healthy = false;
  uint64_t seed = 0;
  std::string label;              // the drawn parameters, human-readable
  std::vector<std::string> args;  // scenario_generated (or python_script) arguments
  // Non-empty: /usr/bin/python3 runs this script from sim/python/ with --cudart instead.
  std::string python_script;
  // A spinner the driver starts outside the traced tree (scenario_generated --family spinner).
  bool outside_spinner = false;
  int outside_cpu = 0;
  int outside_nice = 0;
  // Quota family: the cgroup CPU quota per 100 ms period in us; 0 = unlimited (healthy twin).
  int64_t quota_us = -1;  // -1: no cgroup
  Expect expect = Expect::kTopChain;
  std::vector<Accept> accept;
  // Ranks family: the ranks that wait for the slowed one, and what their own first chain must
  // say (peer_wait naming the spinner). Scored apart from the top chain, which may rightly be
  // the slowed rank's cpu_contention.
  std::vector<std::string> waiting_comms;
  Accept waiting_accept;

  std::string expected_text() const;
};

// The case of `family` drawn from `seed` (pathology or its healthy twin) for a machine with
// `cpus` CPUs. Same inputs, same case.
Case make_case(Family family, bool healthy, uint64_t seed, int cpus);

// The case a Case::id names (FAMILY[-healthy]-SEED), or nullopt.
std::optional<Case> case_from_id(const std::string& id, int cpus);

// `count` cases from `seed`: families in turn, every third round the healthy twins.
std::vector<Case> generate_cases(uint64_t seed, int count, int cpus);

struct Verdict {
  bool correct = false;
  std::string got;  // what explain said, one line
  // A wrong verdict whose chain is cpu_contention naming a process the case did not start
  // (neither traced nor the outside spinner): other load on the machine, which the chain may
  // rightly name. Counted apart in the report so machine noise and analysis errors can be told
  // apart; still a miss.
  bool blames_stranger = false;
  // Ranks: whether the first chain about a waiting rank matched waiting_accept (-1: no such
  // expectation), and that chain.
  int waiting_correct = -1;
  std::string waiting_got;
};

// Compares explain's JSON ({"chains": [...]}) with the case's expectation. `outside_pid` is the
// pid of the driver's spinner (-1 when none); `traced_pids` the trace's processes (from
// `causeway stats --json`; empty: blames_stranger is not worked out).
Verdict judge(const Case& c, const nlohmann::json& explain, int outside_pid,
              const std::vector<int>& traced_pids = {});

struct RunConfig {
  std::string causeway;      // the causeway binary
  std::string workload;      // build/sim/scenario_generated
  std::string python_dir;    // sim/python in the source tree (gil family)
  std::string cudart;        // build/sim/libcudart.so.13 (gil family)
  std::string out_dir;       // ID.db, ID.log, ID.explain.json land here
  bool keep_passed = false;  // keep .db files of correct cases too
};

struct CaseResult {
  bool ran = false;              // trace and explain completed
  bool correct = false;          // and the diagnosis matched
  std::string error;             // why it did not run (when !ran)
  std::string got;               // Verdict::got
  bool blames_stranger = false;  // Verdict::blames_stranger
  int waiting_correct = -1;      // Verdict::waiting_correct
  std::string waiting_got;       // Verdict::waiting_got
  std::string db;                // path, if kept
  int verify_exit = -1;          // `causeway verify` exit status; -1 when not available
  std::string verify_note;       // the last line of its output when it failed
  double seconds = 0;
  // /proc/loadavg's 1-minute figure when the case started: other work on the machine competes
  // with the workload and can be what a contention chain (rightly) names.
  std::string load;
  // The wait the case creates as the workload measured it itself (summary waited_ms / loop_ms),
  // -1 when the family does not measure it. A pathology case below kWeakShare had nothing worth
  // a finding: it is scored like a healthy twin (no high chain) and counted as `weak`.
  double measured_share = -1;
  bool weak = false;
  // The loop thread's time waiting for a CPU (summary runnable_ms, from the kernel's run_delay)
  // over its run; -1 when not reported. A miss naming another process's CPU use with this above
  // measured_share is load from elsewhere that the kernel confirms (counted apart).
  double runnable_share = -1;
};

// Below this share of the loop's run in the case's own wait, a pathology did not happen.
inline constexpr double kWeakShare = 0.05;

// KEY_ms / loop_ms from the workload's "summary ..." line in `log` (KEY: waited, runnable), or
// -1 when absent.
double measured_share(const std::string& log, const std::string& key = "waited");

// Runs one case end to end: starts the outside spinner or cgroup if any, traces the workload,
// explains, judges, verifies (when `causeway verify` exists), cleans up. Needs root and BPF.
CaseResult run_case(const Case& c, const RunConfig& config);

// Whether this causeway has a `verify` command (`causeway verify --help` succeeds).
bool verify_available(const std::string& causeway);

}  // namespace causeway::bench
