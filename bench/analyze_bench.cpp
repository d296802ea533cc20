// Analysis benchmark: causal chains and statistics on a large synthetic trace.
//
// Builds (or reuses, --db) a trace of --events events (default 10 million) with the store's
// deterministic synthetic generator, then measures on it:
//   1. compute_chains over the whole trace (target: <= 10 s, <= 1 GB peak RSS),
//   2. compute_stats, and store_results (chains + stats into the file),
//   3. stats_for_reader / chains_for_reader once stored (target: stats <= 200 ms).
// Peak RSS is the process's ru_maxrss, so it includes everything the benchmark did up to
// that point (the generator's writer is closed and freed before the analysis starts).
//
// Usage: analyze_bench [--events N] [--db PATH] [--keep]
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <string>

#include "analyze/chain_store.h"
#include "analyze/chains.h"
#include "analyze/stats.h"
#include "bench_trace.h"
#include "store/reader.h"

namespace {

double seconds_since(std::chrono::steady_clock::time_point t0) {
  return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
}

// CPU seconds (user + system) of this process: on a shared, loaded machine the wall clock
// mostly measures the other tenants, so both are reported.
double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

double peak_rss_mib() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_maxrss) / 1024.0;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 10'000'000;
  std::string path;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--events" && i + 1 < argc) {
      events = std::atoll(argv[++i]);
    } else if (flag == "--db" && i + 1 < argc) {
      path = argv[++i];
    } else if (flag == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: analyze_bench [--events N] [--db PATH] [--keep]\n");
      return 2;
    }
  }
  const bool generate = path.empty() || access(path.c_str(), R_OK) != 0;
  if (path.empty()) path = "/tmp/causeway_analyze_bench_" + std::to_string(getpid()) + ".db";

  if (generate) {
    const auto t0 = std::chrono::steady_clock::now();
    causeway::Status st = causeway::bench::write_synthetic_trace(path, events);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    std::printf("generated %lld events in %.1f s (%s)\n", static_cast<long long>(events),
                seconds_since(t0), path.c_str());
  }

  auto reader = causeway::store::Reader::open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.error().c_str());
    return 1;
  }
  sqlite3* db = (*reader)->db();
  for (const char* t : {"cuda_call", "thread_state", "syscall", "wakeup", "block_io"}) {
    std::printf("  %-13s %10lld rows\n", t,
                static_cast<long long>((*reader)->count_rows(t).value_or(-1)));
  }
  const double rss_before = peak_rss_mib();

  auto t0 = std::chrono::steady_clock::now();
  double cpu0 = cpu_seconds();
  auto chains = causeway::analyze::compute_chains(db, causeway::analyze::ExplainOptions{});
  const double chains_s = seconds_since(t0);
  const double chains_cpu = cpu_seconds() - cpu0;
  if (!chains.ok()) {
    std::fprintf(stderr, "%s\n", chains.error().c_str());
    return 1;
  }
  const double rss_chains = peak_rss_mib();
  std::printf(
      "compute_chains: %.2f s wall, %.2f s CPU, %zu chains, peak RSS %.0f MiB (%.0f MiB "
      "before)\n",
      chains_s, chains_cpu, chains->size(), rss_chains, rss_before);

  t0 = std::chrono::steady_clock::now();
  cpu0 = cpu_seconds();
  auto stats = causeway::analyze::compute_stats(db);
  const double stats_s = seconds_since(t0);
  const double stats_cpu = cpu_seconds() - cpu0;
  if (!stats.ok()) {
    std::fprintf(stderr, "%s\n", stats.error().c_str());
    return 1;
  }
  std::printf("compute_stats (nothing stored): %.2f s wall, %.2f s CPU, %zu CUDA functions\n",
              stats_s, stats_cpu, stats->apis.size());

  sqlite3* rw = nullptr;
  sqlite3_open_v2(path.c_str(), &rw, SQLITE_OPEN_READWRITE, nullptr);
  t0 = std::chrono::steady_clock::now();
  causeway::Status st = causeway::analyze::store_results(rw, *chains, *stats);
  std::printf("store_results: %.3f s%s\n", seconds_since(t0),
              st.ok() ? "" : (" FAILED: " + st.message()).c_str());
  sqlite3_close(rw);

  for (int run = 0; run < 3; ++run) {
    auto r2 = causeway::store::Reader::open(path);
    t0 = std::chrono::steady_clock::now();
    bool from_store = false;
    auto s2 = causeway::analyze::stats_for_reader((*r2)->db(), &from_store);
    const double stored_stats_s = seconds_since(t0);
    t0 = std::chrono::steady_clock::now();
    bool chains_stored = false;
    auto c2 = causeway::analyze::chains_for_reader((*r2)->db(), {}, &chains_stored);
    std::printf("stored: stats %.1f ms (%s), chains %.1f ms (%s)\n", stored_stats_s * 1e3,
                from_store ? "from store" : "COMPUTED", seconds_since(t0) * 1e3,
                chains_stored ? "from store" : "COMPUTED");
    if (!s2.ok() || !c2.ok()) return 1;
  }
  std::printf("final peak RSS %.0f MiB\n", peak_rss_mib());
  if (!keep && generate) {
    unlink(path.c_str());
    unlink((path + "-wal").c_str());
    unlink((path + "-shm").c_str());
  }
  return 0;
}
