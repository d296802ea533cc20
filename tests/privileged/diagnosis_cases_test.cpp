// The CI subset of the diagnosis-accuracy benchmark (bench/diagnosis_accuracy.cpp): fixed
// generated cases, every family and healthy twins, each traced with the real tracer and judged
// against its known diagnosis (bench/diagnosis_cases.h). One test per case, named after it, so a
// failure says which diagnosis is wrong; the failed case's trace, log and explain output stay in
// build/tests/diagnosis-cases/ for inspection, and `diagnosis_accuracy --case ID` reruns it.
#include <gtest/gtest.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "diagnosis_cases.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

using bench::Case;
using bench::CaseResult;

// Chosen from `diagnosis_accuracy --list` to cover every family and variant: spinner as a child
// process, a thread and an untraced outside process at nice -10/-5/0 with and without the helper;
// the lock held across fdatasync, sleep and CPU work; multi-hop over a pipe and a condition
// variable; CPU and file loaders; ranks with the spinner inside and outside; the timeout trap;
// the CPU quota; the GIL; and healthy twins of each. (Parameters come from the seed and this
// machine's CPU count.)
const char* const kCases[] = {
    "contention-6485274418266381604",           // outside spinner, nice -5, helper
    "contention-7675370395757958959",           // child process, nice 0, helper
    "contention-11867864709366139639",          // thread, nice -10
    "contention-healthy-14849590096423648672",  // spinner thread on the other CPU
    "contention-healthy-17697427900379827853",  // no spinner
    "lock-4294279809680864835",                 // held across nanosleep
    "lock-4280127412249966241",                 // held across CPU work (was called data_loader)
    "lock-14102710878621678565",  // held across write + fdatasync (was called data_loader)
    "lock-healthy-1264207530640788729",
    "multihop-8608505379183451283",   // relay waits on a condvar; source spins
    "multihop-10706909253416221965",  // relay reads a pipe; source does I/O
    "multihop-healthy-3080963983334996679",
    "loader-7859008879853297376",  // 3 CPU-decoding loaders
    "loader-8825964490506862837",  // file-reading loaders
    "loader-healthy-5383737170138044397",
    "ranks-8897885936195610862",  // spinner forked by the workload
    "ranks-9016151524459764997",  // outside spinner; the waiting rank's peer was on its GPU
    "ranks-healthy-15413153493443563037",
    "timeout-15285482208955740299",         // the GPU loop's own waits time out
    "timeout-healthy-1608724266275917527",  // a poller thread's waits time out
    "quota-6414689893338083070",            // cpu quota 20 ms per 100 ms
    "quota-healthy-4426102562851193966",    // the same cgroup, no quota
    "gil-7675370395757958959",  // Python: 2 threads computing while the main thread drives the GPU
    "gil-healthy-11510187212917137094",  // the same threads sleeping instead
};

class DiagnosisCaseTest : public ::testing::TestWithParam<const char*> {};

TEST_P(DiagnosisCaseTest, ExplainFindsTheKnownCause) {
  CAUSEWAY_REQUIRE_BPF();
  const int cpus = static_cast<int>(sysconf(_SC_NPROCESSORS_ONLN));
  const std::optional<Case> c = bench::case_from_id(GetParam(), cpus);
  ASSERT_TRUE(c.has_value()) << GetParam();
  bench::RunConfig config;
  config.causeway = causeway_binary();
  config.workload = build_path("sim/scenario_generated");
  config.python_dir = source_path("sim/python");
  config.cudart = build_path("sim/libcudart.so.13");
  config.out_dir = build_path("tests/diagnosis-cases");
  mkdir(build_path("tests").c_str(), 0755);
  mkdir(config.out_dir.c_str(), 0755);

  const CaseResult r = bench::run_case(*c, config);
  if (!r.ran && c->quota_us >= 0 && r.db.empty()) {
    // No cgroup CPU controller to set a quota with: an environment limit like missing BPF.
    if (running_in_ci()) FAIL() << "quota case cannot run under CI=true: " << r.error;
    GTEST_SKIP() << "quota case cannot run here: " << r.error;
  }
  ASSERT_TRUE(r.ran) << r.error;
  EXPECT_TRUE(r.correct) << c->id << " [" << c->label << "]\n  expected: " << c->expected_text()
                         << "\n  got: " << r.got
                         << (r.blames_stranger
                                 ? "\n  (cpu_contention by a process the case did not start: other "
                                   "load on the machine)"
                                 : "")
                         << "\n  kept: " << r.db
                         << "\n  rerun: build/bench/diagnosis_accuracy --case " << c->id;
  // Ranks: the waiting rank's own first chain must name the spinner that slowed its peer.
  EXPECT_NE(r.waiting_correct, 0) << c->id << ": expected the waiting rank's first chain "
                                  << c->waiting_accept.category
                                  << " culprit=" << c->waiting_accept.culprit_comm
                                  << "\n  got: " << r.waiting_got << "\n  kept: " << r.db;
  // The trace must pass causeway's consistency checks (test support's rule: CPU-holder gaps
  // the recorder still leaves under load are reported, not failed; docs/verify.md).
  if (!r.db.empty()) {
    EXPECT_EQ(verify_trace(r.db), "") << r.db;
  }
}

INSTANTIATE_TEST_SUITE_P(Generated, DiagnosisCaseTest, ::testing::ValuesIn(kCases),
                         [](const ::testing::TestParamInfo<const char*>& info) {
                           std::string name = info.param;
                           for (char& ch : name) {
                             if (ch == '-') ch = '_';
                           }
                           return name;
                         });

}  // namespace
}  // namespace causeway::testing
