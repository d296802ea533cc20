// MCP and stats latency on a large trace with its chains stored, as a client sees them.
//
// Builds (or reuses, --db) a trace of --events events (default 10 million) with the store's
// deterministic synthetic generator, stores its chains and statistics (what the end of
// `causeway trace` does), then --runs times (default 5), side by side in each run:
//   - spawns `causeway mcp` and times spawn -> initialize response      (target <= 200 ms),
//   - get_trace_stats                                                   (target <= 100 ms),
//   - get_causal_chains (stored chains)                                 (target <= 100 ms),
//   - run_sql, a typical indexed query (slowest calls of one function)  (target <= 50 ms),
//   - ping while nothing runs (the protocol's floor),
//   - `causeway stats --db` as a process, spawn -> exit                 (target <= 200 ms).
// Each tool call is timed from writing its request line to reading its response line, on a
// fresh server, so the first-call costs (opening the engine's connection, reading the stored
// results) are included. Prints every run, then the medians, and the load average before and
// after (the machine is shared: say how loaded it was).
//
// Usage: mcp_bench [--events N] [--db PATH] [--runs N] [--keep]
#include <fcntl.h>
#include <signal.h>
#include <sys/wait.h>
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <nlohmann/json.hpp>

#include "analyze/chain_store.h"
#include "bench_trace.h"
#include "store/reader.h"

namespace {

using Clock = std::chrono::steady_clock;

double ms_since(Clock::time_point t0) {
  return std::chrono::duration<double, std::milli>(Clock::now() - t0).count();
}

std::string loadavg() {
  std::ifstream f("/proc/loadavg");
  std::string a, b, c;
  f >> a >> b >> c;
  return a + " " + b + " " + c;
}

double median(std::vector<double> v) {
  if (v.empty()) return 0;
  std::sort(v.begin(), v.end());
  return v.size() % 2 ? v[v.size() / 2] : (v[v.size() / 2 - 1] + v[v.size() / 2]) / 2;
}

// A `causeway mcp` child with its stdin/stdout as pipes.
class McpChild {
 public:
  McpChild(const std::string& binary, const std::string& db, const std::string& audit) {
    int in[2], out[2];
    if (pipe(in) != 0 || pipe(out) != 0) std::abort();
    pid_ = fork();
    if (pid_ == 0) {
      dup2(in[0], 0);
      dup2(out[1], 1);
      close(in[0]);
      close(in[1]);
      close(out[0]);
      close(out[1]);
      execl(binary.c_str(), binary.c_str(), "mcp", "--db", db.c_str(), "--audit-log", audit.c_str(),
            static_cast<char*>(nullptr));
      _exit(127);
    }
    close(in[0]);
    close(out[1]);
    to_ = in[1];
    from_ = out[0];
  }
  ~McpChild() {
    if (to_ >= 0) close(to_);
    close(from_);
    int status = 0;
    waitpid(pid_, &status, 0);
  }

  void send(const nlohmann::json& m) {
    std::string line = m.dump() + "\n";
    if (write(to_, line.data(), line.size()) != static_cast<ssize_t>(line.size())) std::abort();
  }

  // Reads lines until the response with `id`; returns it (null on EOF).
  nlohmann::json response(int id) {
    for (;;) {
      size_t nl;
      while ((nl = buffer_.find('\n')) == std::string::npos) {
        char chunk[65536];
        ssize_t n = read(from_, chunk, sizeof chunk);
        if (n <= 0) return nullptr;
        buffer_.append(chunk, static_cast<size_t>(n));
      }
      std::string line = buffer_.substr(0, nl);
      buffer_.erase(0, nl + 1);
      auto j = nlohmann::json::parse(line, nullptr, false);
      if (j.is_object() && j.contains("id") && j["id"] == id) return j;
    }
  }

  // Sends a request and times it to its response, in ms; aborts the benchmark on an error.
  double call(int id, const std::string& method, nlohmann::json params) {
    const auto t0 = Clock::now();
    send({{"jsonrpc", "2.0"}, {"id", id}, {"method", method}, {"params", std::move(params)}});
    nlohmann::json r = response(id);
    const double ms = ms_since(t0);
    if (r.is_null() || r.contains("error") ||
        (r["result"].is_object() && r["result"].value("isError", false))) {
      std::fprintf(stderr, "mcp_bench: %s failed: %s\n", method.c_str(), r.dump().c_str());
      std::exit(1);
    }
    last_ = std::move(r);
    return ms;
  }
  const nlohmann::json& last() const { return last_; }

 private:
  pid_t pid_ = -1;
  int to_ = -1;
  int from_ = -1;
  std::string buffer_;
  nlohmann::json last_;
};

double run_stats_process(const std::string& binary, const std::string& db) {
  const auto t0 = Clock::now();
  pid_t pid = fork();
  if (pid == 0) {
    int null = open("/dev/null", O_WRONLY);
    dup2(null, 1);
    execl(binary.c_str(), binary.c_str(), "stats", "--db", db.c_str(), static_cast<char*>(nullptr));
    _exit(127);
  }
  int status = 0;
  waitpid(pid, &status, 0);
  if (!WIFEXITED(status) || WEXITSTATUS(status) != 0) {
    std::fprintf(stderr, "mcp_bench: causeway stats failed\n");
    std::exit(1);
  }
  return ms_since(t0);
}

}  // namespace

int main(int argc, char** argv) {
  int64_t events = 10'000'000;
  std::string path;
  int runs = 5;
  bool keep = false;
  for (int i = 1; i < argc; ++i) {
    const std::string flag = argv[i];
    if (flag == "--events" && i + 1 < argc) {
      events = std::atoll(argv[++i]);
    } else if (flag == "--db" && i + 1 < argc) {
      path = argv[++i];
    } else if (flag == "--runs" && i + 1 < argc) {
      runs = std::max(1, std::atoi(argv[++i]));
    } else if (flag == "--keep") {
      keep = true;
    } else {
      std::fprintf(stderr, "usage: mcp_bench [--events N] [--db PATH] [--runs N] [--keep]\n");
      return 2;
    }
  }
  signal(SIGPIPE, SIG_IGN);
  const std::string binary = std::string(CAUSEWAY_BUILD_DIR) + "/causeway";
  const bool generate = path.empty() || access(path.c_str(), R_OK) != 0;
  if (path.empty()) path = "/tmp/causeway_mcp_bench_" + std::to_string(getpid()) + ".db";
  const std::string audit = path + ".bench-audit.jsonl";

  if (generate) {
    const auto t0 = Clock::now();
    causeway::Status st = causeway::bench::write_synthetic_trace(path, events);
    if (!st.ok()) {
      std::fprintf(stderr, "%s\n", st.message().c_str());
      return 1;
    }
    std::printf("generated %lld events in %.1f s (%s)\n", static_cast<long long>(events),
                ms_since(t0) / 1e3, path.c_str());
  }
  {
    // What the end of `causeway trace` does; a no-op when current results are stored.
    auto reader = causeway::store::Reader::open(path);
    if (!reader.ok()) {
      std::fprintf(stderr, "%s\n", reader.error().c_str());
      return 1;
    }
    auto stored = causeway::analyze::load_stored_chains((*reader)->db());
    if (!stored.ok() || !stored->has_value()) {
      const auto t0 = Clock::now();
      causeway::Status st = causeway::analyze::analyze_and_store(path);
      if (!st.ok()) {
        std::fprintf(stderr, "%s\n", st.message().c_str());
        return 1;
      }
      std::printf("chains and statistics stored in %.1f s\n", ms_since(t0) / 1e3);
    }
    int64_t total = 0;
    for (const char* t : {"cuda_call", "thread_state", "syscall", "wakeup", "block_io"}) {
      total += (*reader)->count_rows(t).value_or(0);
    }
    std::printf("trace: %lld events (%s)\n", static_cast<long long>(total), path.c_str());
  }

  const std::string load_before = loadavg();
  const nlohmann::json sql = {
      {"name", "run_sql"},
      {"arguments",
       {{"sql",
         "SELECT id, ts, dur, utid FROM cuda_call WHERE function_id = (SELECT id FROM string "
         "WHERE str = 'cudaStreamSynchronize') ORDER BY dur DESC LIMIT 10"}}}};
  std::map<std::string, std::vector<double>> ms;
  const std::vector<std::string> order = {
      "start", "get_trace_stats", "get_causal_chains", "run_sql", "ping", "causeway_stats"};
  std::printf("\n%-4s", "run");
  for (const auto& k : order) std::printf(" %17s", k.c_str());
  std::printf("   (ms)\n");
  for (int r = 0; r < runs; ++r) {
    {
      const auto t0 = Clock::now();
      McpChild child(binary, path, audit);
      child.send({{"jsonrpc", "2.0"},
                  {"id", 1},
                  {"method", "initialize"},
                  {"params",
                   {{"protocolVersion", "2025-11-25"},
                    {"capabilities", nlohmann::json::object()},
                    {"clientInfo", {{"name", "mcp_bench"}, {"version", "1"}}}}}});
      if (child.response(1).is_null()) {
        std::fprintf(stderr, "mcp_bench: causeway mcp did not answer initialize\n");
        return 1;
      }
      ms["start"].push_back(ms_since(t0));
      child.send({{"jsonrpc", "2.0"}, {"method", "notifications/initialized"}});
      ms["get_trace_stats"].push_back(
          child.call(2, "tools/call", {{"name", "get_trace_stats"}, {"arguments", {}}}));
      if (r == 0 && !child.last()["result"]["structuredContent"].value("stats_from_store", false))
        std::printf("warning: get_trace_stats computed the statistics (not stored)\n");
      ms["get_causal_chains"].push_back(
          child.call(3, "tools/call", {{"name", "get_causal_chains"}, {"arguments", {}}}));
      if (r == 0 && !child.last()["result"]["structuredContent"].value("from_store", false))
        std::printf("warning: get_causal_chains computed the chains (not stored)\n");
      ms["run_sql"].push_back(child.call(4, "tools/call", sql));
      ms["ping"].push_back(child.call(5, "ping", nlohmann::json::object()));
    }
    ms["causeway_stats"].push_back(run_stats_process(binary, path));
    std::printf("%-4d", r + 1);
    for (const auto& k : order) std::printf(" %17.1f", ms[k].back());
    std::printf("\n");
  }
  std::printf("%-4s", "med");
  for (const auto& k : order) std::printf(" %17.1f", median(ms[k]));
  std::printf(
      "\ntarget ms  start <= 200, get_trace_stats <= 100, get_causal_chains <= 100, "
      "run_sql <= 50, causeway stats <= 200\n");
  std::printf("load average before: %s, after: %s (%ld CPUs)\n", load_before.c_str(),
              loadavg().c_str(), sysconf(_SC_NPROCESSORS_ONLN));
  unlink(audit.c_str());
  if (!keep && generate) {
    unlink(path.c_str());
    unlink((path + "-wal").c_str());
    unlink((path + "-shm").c_str());
  }
  return 0;
}
