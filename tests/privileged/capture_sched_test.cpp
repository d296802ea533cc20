// Wakers and CPU holders recorded by `causeway trace`, checked against what the workload
// (sim/scenarios/sched_workload.cpp) knows, on idle CPUs and on CPUs kept busy by untraced
// spinners: a recorded waker that changes with the machine's load would mean the capture,
// not the workload, is wrong.
#include <gtest/gtest.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <map>
#include <sstream>
#include <string>
#include <vector>

#include "support/test_support.h"

namespace causeway::testing {
namespace {

struct Traced {
  CommandResult run;
  std::map<std::string, std::string> summary;
};

Traced trace_workload(const std::string& db, const std::vector<std::string>& args) {
  std::vector<std::string> argv = {causeway_binary(),
                                   "trace",
                                   "--db",
                                   db,
                                   "--no-python-stacks",
                                   "--",
                                   build_path("sim/sched_workload")};
  argv.insert(argv.end(), args.begin(), args.end());
  Traced t;
  t.run = run_command(argv);
  t.summary = workload_summary(t.run.out);
  EXPECT_EQ(verify_trace(db), "") << "causeway verify on " << args[0];
  return t;
}

// Untraced spinners at nice 19, one per CPU, for the "busy machine" variants.
class BusyCpus {
 public:
  BusyCpus() {
    for (int cpu = 0; cpu < 2; cpu++) {
      const pid_t p = fork();
      if (p == 0) {
        cpu_set_t set;
        CPU_ZERO(&set);
        CPU_SET(cpu, &set);
        sched_setaffinity(0, sizeof(set), &set);
        if (nice(19) < 0) _exit(1);
        for (;;) {
        }
      }
      pids_.push_back(p);
    }
  }
  ~BusyCpus() {
    for (pid_t p : pids_) {
      kill(p, SIGKILL);
      waitpid(p, nullptr, 0);
    }
  }

 private:
  std::vector<pid_t> pids_;
};

void expect_pingpong_wakers_right(bool busy) {
  TempDir dir;
  const std::string db = dir.file("t.db");
  std::unique_ptr<BusyCpus> load;
  if (busy) load = std::make_unique<BusyCpus>();
  auto t = trace_workload(db, {"pingpong", "2000"});
  load.reset();
  ASSERT_EQ(t.run.exit_code, 0) << t.run.err;
  ASSERT_TRUE(t.summary.count("ping")) << t.run.out;
  const std::string ping = t.summary["ping"], pong = t.summary["pong"];
  // Each side is woken by the other once per round (plus process start and exit).
  const int64_t wakeups =
      query_int(db, "SELECT count(*) FROM wakeups WHERE wakee_pid IN (" + ping + "," + pong + ")");
  const int64_t right = query_int(db, "SELECT count(*) FROM wakeups WHERE (wakee_pid = " + ping +
                                          " AND waker_pid = " + pong + ") OR (wakee_pid = " + pong +
                                          " AND waker_pid = " + ping + ")");
  // (A read that finds its byte already there does not block: a few rounds need no wakeup.)
  EXPECT_GE(wakeups, 3900) << (busy ? "busy" : "idle");
  EXPECT_GE(right * 100, wakeups * 99)
      << right << " of " << wakeups << " wakers right, " << (busy ? "busy" : "idle") << " CPUs";
  // Seen in the waker's own context (sched_waking), not guessed from where it completed.
  const int64_t from_waking =
      query_int(db,
                "SELECT count(*) FROM wakeups WHERE waker_context = 'task' AND wakee_pid IN "
                "(" +
                    ping + "," + pong + ") AND waker_pid IN (" + ping + "," + pong + ")");
  EXPECT_GE(from_waking * 100, right * 99) << from_waking << " of " << right;
}

TEST(CaptureSched, PipeWakersAreTheOtherProcessOnIdleCpus) {
  CAUSEWAY_REQUIRE_BPF();
  expect_pingpong_wakers_right(false);
}

TEST(CaptureSched, PipeWakersAreTheOtherProcessOnBusyCpus) {
  CAUSEWAY_REQUIRE_BPF();
  expect_pingpong_wakers_right(true);
}

TEST(CaptureSched, ATimeoutIsATimerNotAWaker) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  BusyCpus load;  // the timer interrupts whatever runs: those tasks must not become wakers
  auto t = trace_workload(db, {"timeouts", "100"});
  ASSERT_EQ(t.run.exit_code, 0) << t.run.err;
  ASSERT_EQ(t.summary["timed_out"], "100") << t.run.out;
  const std::string waits = "FROM thread_states WHERE tid = " + t.summary["tid"] +
                            " AND state = 'sleeping' AND syscall = 'futex'";
  const int64_t n = query_int(db, "SELECT count(*) " + waits);
  EXPECT_GE(n, 100);
  // A timeout can still be credited to an interrupt that nested in the timer callback (seen
  // once in dozens of runs); never to a task.
  EXPECT_GE(query_int(db, "SELECT count(*) " + waits + " AND waker_context = 'timer'") * 100,
            n * 98);
  EXPECT_EQ(query_int(db, "SELECT count(*) " + waits + " AND waker_utid IS NOT NULL"), 0);
}

TEST(CaptureSched, TheLockHolderIsOneThreadWithOneRow) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  auto t = trace_workload(db, {"lockio", "200"});
  ASSERT_EQ(t.run.exit_code, 0) << t.run.err;
  const std::string logger = t.summary["logger"], decode = t.summary["decode"];
  ASSERT_FALSE(logger.empty()) << t.run.out;
  // One row per thread, whatever it was first seen as (waker, preempter, traced thread).
  EXPECT_EQ(query_int(db,
                      "SELECT count(*) FROM (SELECT tid FROM thread GROUP BY tid HAVING "
                      "count(*) > 1)"),
            0);
  EXPECT_EQ(query_int(db, "SELECT count(*) FROM thread WHERE tid = " + logger), 1);
  EXPECT_EQ(query_int(db, "SELECT traced FROM thread WHERE tid = " + logger), 1);
  // decode's futex waits are ended by the logger releasing the mutex.
  const std::string waits =
      "FROM thread_states WHERE tid = " + decode + " AND state = 'sleeping' AND syscall = 'futex'";
  const int64_t total = query_int(db, "SELECT coalesce(sum(dur), 0) " + waits);
  const int64_t by_logger =
      query_int(db, "SELECT coalesce(sum(dur), 0) " + waits + " AND waker_tid = " + logger);
  EXPECT_GT(total, 0);
  EXPECT_GE(by_logger * 100, total * 95) << by_logger << " of " << total << " ns";
}

// The first case: a nice -10 spinner holds decode's CPU; a helper thread switches in
// at many of the instants decode is preempted. Ground truth comes from the spinner's own
// recorded running intervals (it is a child, so traced), independently of cpu_slice.
TEST(CaptureSched, WhoHeldTheCpuWhileAThreadWaitedIsTheSpinner) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  auto t = trace_workload(db, {"contend"});
  ASSERT_EQ(t.run.exit_code, 0) << t.run.err;
  const std::string decode = t.summary["decode"], spinner = t.summary["spinner"];
  ASSERT_FALSE(spinner.empty()) << t.run.out;
  const std::string runnable = "s.tid = " + decode + " AND s.state = 'runnable'";
  const int64_t waited = query_int(db, "SELECT sum(dur) FROM thread_states s WHERE " + runnable);
  ASSERT_GT(waited, 500'000'000) << "the spinner barely delayed decode";
  // Time of decode's runnable intervals overlapped by rows of `other` on the same CPU.
  auto overlap = [&](const std::string& other, const std::string& where) {
    return query_int(db,
                     "SELECT coalesce(sum(min(o.end_ts, s.end_ts) - max(o.ts, s.ts)), 0) FROM "
                     "thread_states s JOIN " +
                         other +
                         " o ON o.cpu = s.cpu AND o.ts < s.end_ts AND o.end_ts > s.ts WHERE " +
                         runnable + " AND " + where);
  };
  const int64_t covered = overlap("cpu_slices", "1");
  const int64_t by_spinner_slices = overlap("cpu_slices", "o.tid = " + spinner);
  const int64_t by_spinner_truth =
      overlap("thread_states", "o.tid = " + spinner + " AND o.state = 'running'");
  EXPECT_GE(covered * 100, waited * 99) << covered << " of " << waited << " ns covered";
  EXPECT_GT(by_spinner_truth, waited / 3);
  // The slices name the spinner for exactly the time its own records say it ran there.
  EXPECT_NEAR(static_cast<double>(by_spinner_slices), static_cast<double>(by_spinner_truth),
              static_cast<double>(waited) * 0.01);
  // And no other task is credited with more of decode's wait than the spinner.
  EXPECT_EQ(query_int(db,
                      "SELECT o.tid FROM thread_states s JOIN cpu_slices o ON o.cpu = s.cpu "
                      "AND o.ts < s.end_ts AND o.end_ts > s.ts WHERE s.tid = " +
                          decode +
                          " AND s.state = 'runnable' AND o.tid IS NOT NULL GROUP BY o.tid "
                          "ORDER BY sum(min(o.end_ts, s.end_ts) - max(o.ts, s.ts)) DESC "
                          "LIMIT 1"),
            std::stoll(spinner));
}

// Switches the kernel made without reporting them to sched_switch are counted, and every CPU
// holder break the decoder found is one of them: a break the kernel cannot account for would
// be the recorder's own mistake. The machine is kept busy so that CPUs have waiters.
TEST(CaptureSched, CpuHolderBreaksAreSwitchesTheKernelDidNotReport) {
  CAUSEWAY_REQUIRE_BPF();
  TempDir dir;
  const std::string db = dir.file("t.db");
  BusyCpus load;
  auto t = trace_workload(db, {"pingpong", "2000"});
  ASSERT_EQ(t.run.exit_code, 0) << t.run.err;
  auto count = [&](const std::string& key) {
    return query_int(
        db, "SELECT json_extract(value, '$." + key + "') FROM meta WHERE key = 'event_counts'");
  };
  const int64_t unreported = count("switches_unreported");
  ASSERT_GE(unreported, 0) << "event_counts has no switches_unreported";
  ASSERT_EQ(query_int(db, "SELECT json_extract(value, '$.sched') FROM meta WHERE key = 'drops'"),
            0);
  // The count is a lower bound that can miss the few switches at its two edges.
  EXPECT_LE(count("cpu_holder_breaks"), unreported + 4);
}

}  // namespace
}  // namespace causeway::testing
