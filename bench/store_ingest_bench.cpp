// Trace-database ingest benchmark: writes a realistic synthetic event mix through
// store::Writer on one thread and reports events/s (median of several runs), the time to
// finish the file (indexes + checkpoint), and bytes on disk per event and per CUDA-call row.
//
// Usage: store_ingest_bench [--events N] [--runs R] [--dir DIR] [--batch-rows N]
//                           [--indexes yes|no] [--keep PATH]
//                           [--page-size BYTES]
// Figures are recorded in docs/performance.md ("Trace database ingest").
#include <sqlite3.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include "store/reader.h"
#include "store/synthetic.h"
#include "store/writer.h"

namespace {

using causeway::store::Reader;
using causeway::store::SyntheticOptions;
using causeway::store::SyntheticTrace;
using causeway::store::Writer;
using causeway::store::WriterOptions;

double now_s(clockid_t clock) {
  timespec ts{};
  clock_gettime(clock, &ts);
  return static_cast<double>(ts.tv_sec) + static_cast<double>(ts.tv_nsec) * 1e-9;
}

double median(std::vector<double> v) {
  std::sort(v.begin(), v.end());
  const size_t n = v.size();
  return n % 2 == 1 ? v[n / 2] : (v[n / 2 - 1] + v[n / 2]) / 2;
}

int64_t query_int(sqlite3* db, const char* sql) {
  sqlite3_stmt* stmt = nullptr;
  int64_t out = -1;
  if (sqlite3_prepare_v2(db, sql, -1, &stmt, nullptr) == SQLITE_OK &&
      sqlite3_step(stmt) == SQLITE_ROW) {
    out = sqlite3_column_int64(stmt, 0);
  }
  sqlite3_finalize(stmt);
  return out;
}

int64_t file_size(const std::string& path) {
  struct stat st {};
  return stat(path.c_str(), &st) == 0 ? static_cast<int64_t>(st.st_size) : -1;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 2'000'000;
  int runs = 5;
  int64_t batch_rows = WriterOptions{}.batch_rows;
  bool indexes = true;
  int page_size = WriterOptions{}.page_size;
  std::string keep;  // keep the last run's database at this path
  std::string dir = std::getenv("TMPDIR") != nullptr ? std::getenv("TMPDIR") : "/tmp";
  for (int i = 1; i + 1 < argc; i += 2) {
    const std::string flag = argv[i];
    if (flag == "--events")
      events = std::atoll(argv[i + 1]);
    else if (flag == "--runs")
      runs = std::atoi(argv[i + 1]);
    else if (flag == "--dir")
      dir = argv[i + 1];
    else if (flag == "--batch-rows")
      batch_rows = std::atoll(argv[i + 1]);
    else if (flag == "--indexes")
      indexes = std::string(argv[i + 1]) != "no";
    else if (flag == "--keep")
      keep = argv[i + 1];
    else if (flag == "--page-size")
      page_size = std::atoi(argv[i + 1]);
    else {
      std::fprintf(stderr, "unknown flag %s\n", argv[i]);
      return 2;
    }
  }
  const std::string path = dir + "/causeway-ingest-bench-" + std::to_string(getpid()) + ".db";
  std::printf(
      "store_ingest_bench: %lld events per run (mix: ~50%% cuda_call, 25%% "
      "thread_state, 15%% syscall, 9%% wakeup, 1%% block_io), %d runs, one thread\n",
      static_cast<long long>(events), runs);

  std::vector<double> rates, cpu_rates, close_s;
  causeway::store::SyntheticCounts counts;
  for (int run = 0; run < runs; ++run) {
    WriterOptions opts;
    opts.origin_ns = SyntheticOptions{}.start_ns;
    opts.overwrite = true;
    opts.batch_rows = batch_rows;
    opts.index_on_close = indexes;
    opts.page_size = page_size;
    auto writer = Writer::create(path, opts);
    if (!writer.ok()) {
      std::fprintf(stderr, "%s\n", writer.error().c_str());
      return 1;
    }
    SyntheticTrace trace(**writer, SyntheticOptions{});
    const double t0 = now_s(CLOCK_MONOTONIC), c0 = now_s(CLOCK_THREAD_CPUTIME_ID);
    auto st = trace.add(events);
    if (st.ok()) st = (*writer)->flush();
    const double t1 = now_s(CLOCK_MONOTONIC), c1 = now_s(CLOCK_THREAD_CPUTIME_ID);
    if (st.ok()) st = (*writer)->close();
    const double t2 = now_s(CLOCK_MONOTONIC), c2 = now_s(CLOCK_THREAD_CPUTIME_ID);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    counts = trace.counts();
    rates.push_back(static_cast<double>(events) / (t1 - t0));
    cpu_rates.push_back(static_cast<double>(events) / (c1 - c0));
    close_s.push_back(t2 - t1);
    std::printf(
        "  run %d: ingest %.3f s wall (%.0f events/s), %.3f s CPU; close (indexes + "
        "checkpoint) %.3f s wall, %.3f s CPU\n",
        run + 1, t1 - t0, rates.back(), c1 - c0, t2 - t1, c2 - c1);
  }

  auto reader = Reader::open(path);
  if (!reader.ok()) {
    std::fprintf(stderr, "%s\n", reader.error().c_str());
    return 1;
  }
  sqlite3* db = (*reader)->db();
  const int64_t cuda_rows = query_int(db, "SELECT count(*) FROM cuda_call");
  const int64_t cuda_pages =
      query_int(db, "SELECT sum(pgsize) FROM dbstat WHERE name = 'cuda_call'");
  const int64_t cuda_payload =
      query_int(db, "SELECT sum(payload) FROM dbstat WHERE name = 'cuda_call'");
  const int64_t index_bytes =
      query_int(db,
                "SELECT sum(pgsize) FROM dbstat WHERE name IN (SELECT name FROM sqlite_schema "
                "WHERE type = 'index')");
  const int64_t stack_bytes =
      query_int(db, "SELECT sum(pgsize) FROM dbstat WHERE name IN ('stack', 'stack_frame')");
  const int64_t bytes = file_size(path);
  reader->reset();
  if (!keep.empty() && rename(path.c_str(), keep.c_str()) == 0) {
    std::printf("kept the last database as %s\n", keep.c_str());
  } else {
    unlink(path.c_str());
  }

  std::printf(
      "median ingest rate: %.0f events/s wall, %.0f events/s per CPU-second "
      "(median close %.3f s)\n",
      median(rates), median(cpu_rates), median(close_s));
  std::printf(
      "cuda_call: %lld rows, %.1f bytes/row on disk (table pages incl. page overhead; "
      "record payload alone %.1f bytes/row)\n",
      static_cast<long long>(cuda_rows),
      static_cast<double>(cuda_pages) / static_cast<double>(cuda_rows),
      static_cast<double>(cuda_payload) / static_cast<double>(cuda_rows));
  std::printf(
      "file: %lld bytes = %.1f bytes/event (all tables; indexes %.1f bytes/event, "
      "stacks %lld bytes)\n",
      static_cast<long long>(bytes),
      static_cast<double>(bytes) / static_cast<double>(counts.total()),
      static_cast<double>(index_bytes) / static_cast<double>(counts.total()),
      static_cast<long long>(stack_bytes));
  return 0;
}
