// Symbolization benchmark: 100,000 distinct stacks into real binaries (target: <= 5 s).
//
// Builds a trace whose stacks point into the executables and libraries mapped by this very
// process (this benchmark, linked with all of causeway and built with -g; libc, libstdc++,
// libm, ld.so; with their debug info where installed), at their real load addresses from
// /proc/self/maps and with their real build-ids — what capture records. Each stack has
// --depth frames drawn from a pool of --addresses distinct code addresses; every stack is
// distinct, and each is the stack of one cuda_call row (as in a real trace, where a stack is
// interned only for an event that has it). Then measures, median of --runs:
//   1. symbolize_and_store: every distinct address symbolized (libdwfl, inlined frames) and
//      the results stored in the trace, together with every event's merged stack
//      (merged_stack / merged_frame) — what the end of `causeway trace` does;
//   2. in memory: StackSymbolizer::native for every stack on a trace without stored symbols
//      (what a read-only reader such as the MCP server does);
//   3. stored: StackSymbolizer::native for every stack once the symbols are stored.
// Wall and CPU seconds are both reported (the machine may be shared).
//
// Usage: symbolize_bench [--stacks N] [--addresses N] [--depth N] [--runs N] [--keep]
#include <sqlite3.h>
#include <sys/resource.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <random>
#include <set>
#include <sstream>
#include <string>
#include <vector>

#include "host/elf_file.h"
#include "store/reader.h"
#include "store/writer.h"
#include "symbolize/module_symbolizer.h"
#include "symbolize/stack_symbols.h"

namespace {

using Clock = std::chrono::steady_clock;

double cpu_seconds() {
  rusage ru{};
  getrusage(RUSAGE_SELF, &ru);
  return static_cast<double>(ru.ru_utime.tv_sec + ru.ru_stime.tv_sec) +
         static_cast<double>(ru.ru_utime.tv_usec + ru.ru_stime.tv_usec) / 1e6;
}

struct Timing {
  double wall = 0, cpu = 0;
};

template <typename F>
Timing measure(F&& f) {
  const auto t0 = Clock::now();
  const double c0 = cpu_seconds();
  f();
  return {std::chrono::duration<double>(Clock::now() - t0).count(), cpu_seconds() - c0};
}

Timing median(std::vector<Timing> v) {
  std::sort(v.begin(), v.end(), [](const Timing& a, const Timing& b) { return a.wall < b.wall; });
  return v[v.size() / 2];
}

std::vector<causeway::store::MappingInfo> executable_mappings(int32_t pid) {
  std::vector<causeway::store::MappingInfo> out;
  std::ifstream maps("/proc/self/maps");
  std::string line;
  while (std::getline(maps, line)) {
    std::istringstream in(line);
    std::string range, perms, offset, dev, inode, path;
    in >> range >> perms >> offset >> dev >> inode >> path;
    if (path.empty() || path[0] != '/' || perms.size() < 3 || perms[2] != 'x') continue;
    causeway::store::MappingInfo m;
    m.pid = pid;
    m.start = std::stoull(range.substr(0, range.find('-')), nullptr, 16);
    m.end = std::stoull(range.substr(range.find('-') + 1), nullptr, 16);
    m.file_offset = std::stoull(offset, nullptr, 16);
    m.path = path;
    m.build_id = causeway::host::read_build_id(path);
    out.push_back(m);
  }
  return out;
}

}  // namespace

int main(int argc, char** argv) {
  int64_t stacks = 100'000, addresses = 20'000, depth = 16, runs = 3;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    auto next = [&] { return i + 1 < argc ? std::atoll(argv[++i]) : 0LL; };
    if (flag == "--stacks") {
      stacks = next();
    } else if (flag == "--addresses") {
      addresses = next();
    } else if (flag == "--depth") {
      depth = next();
    } else if (flag == "--runs") {
      runs = next();
    } else if (flag == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr,
                   "usage: symbolize_bench [--stacks N] [--addresses N] [--depth N] [--runs N] "
                   "[--keep]\n");
      return 2;
    }
  }
  if (stacks <= 0 || addresses <= 0 || depth <= 0 || runs <= 0) {
    std::fprintf(stderr, "symbolize_bench: every count must be positive.\n");
    return 2;
  }
  constexpr int32_t kPid = 4242;
  const auto maps = executable_mappings(kPid);
  if (maps.empty()) {
    std::fprintf(stderr, "symbolize_bench: no executable mappings in /proc/self/maps.\n");
    return 1;
  }
  // Address pool: uniformly over the mapped code, weighted by mapping size.
  std::mt19937_64 rng(42);
  uint64_t total = 0;
  for (const auto& m : maps) total += m.end - m.start;
  std::set<uint64_t> pool_set;
  while (static_cast<int64_t>(pool_set.size()) < addresses) {
    uint64_t r = rng() % total;
    for (const auto& m : maps) {
      if (r < m.end - m.start) {
        pool_set.insert(m.start + r);
        break;
      }
      r -= m.end - m.start;
    }
  }
  const std::vector<uint64_t> pool(pool_set.begin(), pool_set.end());

  const std::string dir = std::filesystem::temp_directory_path() / "causeway_symbolize_bench";
  std::filesystem::create_directories(dir);
  const std::string path = dir + "/trace.db";
  {
    causeway::store::WriterOptions o;
    o.origin_ns = 1'000'000'000;
    o.overwrite = true;
    auto w = causeway::store::Writer::create(path, o);
    if (!w.ok()) {
      std::fprintf(stderr, "symbolize_bench: %s\n", w.error().c_str());
      return 1;
    }
    causeway::store::ProcessInfo p;
    p.pid = kPid;
    p.name = "bench";
    p.traced = true;
    (void)(*w)->note_process(p);
    for (const auto& m : maps) (void)(*w)->note_mapping(m);
    std::vector<uint64_t> frames(static_cast<size_t>(depth));
    std::set<causeway::store::StackId> ids;
    causeway::store::CudaCallRow call;
    call.ts_ns = o.origin_ns;
    call.pid = kPid;
    call.tid = kPid;
    call.function = (*w)->intern("cudaLaunchKernel");
    while (static_cast<int64_t>(ids.size()) < stacks) {
      for (auto& f : frames) f = pool[rng() % pool.size()];
      const causeway::store::StackId id = (*w)->intern_stack(kPid, frames);
      if (!ids.insert(id).second) continue;  // a repeat: its stack already has its call
      call.ts_ns += 10'000;
      call.dur_ns = 2'000;
      call.stack = id;
      auto row = (*w)->add(call);
      if (!row.ok()) {
        std::fprintf(stderr, "symbolize_bench: %s\n", row.error().c_str());
        return 1;
      }
    }
    auto st = (*w)->close();
    if (!st.ok()) {
      std::fprintf(stderr, "symbolize_bench: %s\n", st.message().c_str());
      return 1;
    }
  }
  int64_t distinct_lookups = 0;
  std::printf(
      "trace: %lld distinct stacks x %lld frames over %lld distinct addresses in %zu "
      "mappings (%s)\n",
      static_cast<long long>(stacks), static_cast<long long>(depth),
      static_cast<long long>(addresses), maps.size(), path.c_str());

  // 2. In memory, before anything is stored (read-only connection).
  std::vector<Timing> memory;
  for (int64_t r = 0; r < runs; ++r) {
    auto reader = causeway::store::Reader::open(path);
    if (!reader.ok()) return 1;
    causeway::symbolize::StackSymbolizer s((*reader)->db());
    int64_t frames = 0;
    memory.push_back(measure([&] {
      for (int64_t id = 1; id <= stacks; ++id) {
        auto f = s.native(id);
        if (f.ok()) frames += static_cast<int64_t>(f->size());
      }
    }));
    distinct_lookups = s.computed_addresses();
    if (r == 0) {
      std::printf("in-memory symbolization yields %lld frames (inlined frames expanded)\n",
                  static_cast<long long>(frames));
    }
  }
  // 1. Symbolize and store.
  std::vector<Timing> store;
  causeway::symbolize::SymbolizeSummary summary;
  for (int64_t r = 0; r < runs; ++r) {
    store.push_back(measure([&] {
      auto s = causeway::symbolize::symbolize_and_store(path);
      if (s.ok()) summary = *s;
    }));
  }
  int64_t merged_stacks = -1, merged_frames = -1;
  {
    auto reader = causeway::store::Reader::open(path);
    if (!reader.ok()) return 1;
    merged_stacks = (*reader)->count_rows("merged_stack").value_or(-1);
    merged_frames = (*reader)->count_rows("merged_frame").value_or(-1);
  }
  if (merged_stacks != summary.merged_stacks || merged_stacks < stacks) {
    std::fprintf(stderr,
                 "symbolize_bench: %lld merged stacks stored for %lld stacks with events; "
                 "merged storage is broken.\n",
                 static_cast<long long>(merged_stacks), static_cast<long long>(stacks));
    return 1;
  }
  // 3. Stored.
  std::vector<Timing> stored;
  for (int64_t r = 0; r < runs; ++r) {
    auto reader = causeway::store::Reader::open(path);
    if (!reader.ok()) return 1;
    causeway::symbolize::StackSymbolizer s((*reader)->db());
    stored.push_back(measure([&] {
      for (int64_t id = 1; id <= stacks; ++id) (void)s.native(id);
    }));
  }
  const auto report = [&](const char* what, const std::vector<Timing>& t) {
    const Timing m = median(t);
    std::printf("%-44s median %6.2f s wall, %6.2f s CPU (%lld runs)%s\n", what, m.wall, m.cpu,
                static_cast<long long>(t.size()),
                std::string(what).rfind("symbolize_and_store", 0) == 0
                    ? (m.wall <= 5.0 ? "  [target <= 5 s: met]" : "  [target <= 5 s: MISSED]")
                    : "");
  };
  std::printf(
      "distinct looked-up addresses: %lld; stored: %lld symbols, %lld unresolved, %lld "
      "modules opened\n",
      static_cast<long long>(distinct_lookups), static_cast<long long>(summary.symbols),
      static_cast<long long>(summary.unresolved), static_cast<long long>(summary.modules));
  std::printf("stored merged stacks: %lld merged_stack rows, %lld merged_frame rows\n",
              static_cast<long long>(merged_stacks), static_cast<long long>(merged_frames));
  report("symbolize_and_store (all stacks + merged, stored)", store);
  report("in memory, every stack (read-only reader)", memory);
  report("from stored symbols, every stack", stored);
  std::printf("trace file: %.1f MiB\n",
              static_cast<double>(std::filesystem::file_size(path)) / (1024.0 * 1024.0));
  if (!keep) std::filesystem::remove_all(dir);
  return 0;
}
