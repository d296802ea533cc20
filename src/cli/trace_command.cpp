// `causeway trace`: record CUDA calls and kernel events of a command, a process, or every
// CUDA process into a trace database. Flag parsing only; the work is capture::run_trace.
#include <unistd.h>

#include <cstdio>
#include <string>
#include <vector>

#include "analyze/chain_store.h"
#include "capture/session.h"
#include "causeway/abi/events.h"
#include "cli/command.h"
#include "cli/version.h"
#include "symbolize/stack_symbols.h"

namespace causeway::cli {
namespace {

struct TraceFlags {
  capture::TraceOptions options;
  std::vector<int> pids;
  bool all = false;
  std::vector<std::string> command;
  bool no_stacks = false;
  bool no_python_stacks = false;
  std::string call_graph = "fp";
  bool no_syscalls = false;
  bool no_io = false;
};

std::string shell_join(int argc, char** argv) {
  std::string out;
  for (int i = 0; i < argc; i++) {
    if (i) out += ' ';
    out += argv[i];
  }
  return out;
}

// --call-graph: "fp" -> 0, "dwarf" -> the default copy size, "dwarf,BYTES" -> BYTES.
Result<uint32_t> parse_call_graph(const std::string& value) {
  constexpr uint32_t kDefaultBytes = 8192;
  const std::string bad =
      "--call-graph takes 'fp' or 'dwarf' (optionally 'dwarf,BYTES' with BYTES "
      "a multiple of 8 from 512 to " +
      std::to_string(CW_USTACK_MAX_BYTES) + "), not '" + value + "'.";
  if (value == "fp") return uint32_t{0};
  if (value == "dwarf") return kDefaultBytes;
  if (value.rfind("dwarf,", 0) != 0) return Status::Error(bad);
  const std::string num = value.substr(6);
  if (num.empty() || num.size() > 6 || num.find_first_not_of("0123456789") != std::string::npos)
    return Status::Error(bad);
  const unsigned long n = std::stoul(num);
  if (n < 512 || n > CW_USTACK_MAX_BYTES || n % 8 != 0) return Status::Error(bad);
  return static_cast<uint32_t>(n);
}

std::string& saved_command_line() {
  static std::string s;
  return s;
}

void setup_trace(CLI::App& sub, int& exit_code) {
  auto flags = std::make_shared<TraceFlags>();
  auto& o = flags->options;
  sub.add_option("--db", o.db_path, "Trace database to create (never overwritten)")
      ->type_name("FILE")
      ->capture_default_str();
  sub.add_option("--duration", o.duration_s,
                 "Stop tracing after the target has run traced this many seconds, counted once the "
                 "probes are on and not counting the time it is held stopped while a library it "
                 "loads is probed (default: when the target exits)")
      ->type_name("SECONDS")
      ->check(CLI::NonNegativeNumber);
  sub.add_option("--cudart", o.cudart_path,
                 "Probe this CUDA runtime library instead of discovering it")
      ->type_name("PATH");
  sub.add_option("--cuda", o.cuda_path, "Probe this CUDA driver library instead of discovering it")
      ->type_name("PATH");
  sub.add_flag("--no-stacks", flags->no_stacks, "Do not record user stacks");
  sub.add_flag("--no-python-stacks", flags->no_python_stacks,
               "Do not record Python stacks of CPython processes");
  sub.add_option("--call-graph", flags->call_graph,
                 "How native stacks are taken: 'fp' walks frame pointers (cheap; stops at code "
                 "built without them), 'dwarf' also copies BYTES of stack per stack (default "
                 "8192) and unwinds it with the binaries' DWARF CFI, like perf --call-graph dwarf")
      ->type_name("fp|dwarf[,BYTES]")
      ->capture_default_str();
  sub.add_flag("--no-syscalls", flags->no_syscalls, "Do not record system calls");
  sub.add_flag("--no-io", flags->no_io, "Do not record block I/O");
  sub.add_option("--buffer-mb", o.buffer_mb,
                 "Ring buffer size in MiB: bounds the kernel memory used")
      ->type_name("N")
      ->capture_default_str()
      ->check(CLI::Range(1, 4096));
  sub.add_option("--user", o.user, "Run the command as this user (default: the user who ran sudo)")
      ->type_name("USER");
  auto* pid = sub.add_option("--pid", flags->pids,
                             "Attach to this running process (and its future children); repeat "
                             "it (or give a comma-separated list) to trace several processes, "
                             "e.g. the ranks of one job, in one trace")
                  ->type_name("PID")
                  ->delimiter(',');
  auto* all = sub.add_flag("--all", flags->all, "Trace every process that maps a CUDA library");
  auto* cmd = sub.add_option("command", flags->command, "Command to launch and trace, after '--'")
                  ->type_name("COMMAND");
  pid->excludes(all);
  pid->excludes(cmd);
  all->excludes(cmd);
  sub.footer(
      "Examples:\n"
      "  sudo causeway trace --db run.db -- python train.py\n"
      "  sudo causeway trace --db run.db --pid 4242 --duration 30\n"
      "  sudo causeway trace --db run.db --all");
  sub.callback([flags, &exit_code] {
    auto& opts = flags->options;
    opts.stacks = !flags->no_stacks;
    opts.python_stacks = !flags->no_python_stacks;
    auto bytes = parse_call_graph(flags->call_graph);
    if (!bytes.ok()) {
      std::fprintf(stderr, "causeway: %s\n", bytes.error().c_str());
      exit_code = 2;
      return;
    }
    opts.ustack_bytes = bytes.value();
    opts.syscalls = !flags->no_syscalls;
    opts.block_io = !flags->no_io;
    if (!flags->pids.empty()) {
      opts.mode = capture::TargetMode::kPid;
      opts.pids.assign(flags->pids.begin(), flags->pids.end());
    } else if (flags->all) {
      opts.mode = capture::TargetMode::kAll;
    } else if (!flags->command.empty()) {
      opts.mode = capture::TargetMode::kCommand;
      opts.command = flags->command;
    } else {
      std::fprintf(
          stderr,
          "causeway: say what to trace: '-- COMMAND [ARGS...]', '--pid PID' or '--all'. Run "
          "'causeway trace --help' for usage.\n");
      exit_code = 2;
      return;
    }
    opts.tool_version = kVersion;
    opts.command_line = saved_command_line();
    opts.status_line = isatty(STDERR_FILENO) == 1;
    auto result = capture::run_trace(opts);
    if (!result.ok()) {
      std::fprintf(stderr, "causeway: %s\n", result.error().c_str());
      exit_code = 1;
      return;
    }
    exit_code = result->exit_status;
    // What the follow-up messages call the trace: never "complete" when recording stopped
    // early (a full disk, a write error), whose reason was printed just before.
    const char* state = result->stopped_early
                            ? "the trace stopped early (it keeps what was written before)"
                            : "the trace is complete";
    // Chains are computed once, here, and stored in the trace so that `explain` and MCP
    // clients answer instantly. Capture itself never calls analysis (one-way data flow).
    if (access(opts.db_path.c_str(), W_OK) == 0) {
      // Stacks are symbolized now, while the traced binaries are still on disk as they ran
      // (readers fall back to symbolizing in memory), and before analysis, whose chains cite
      // the stored symbols.
      auto symbolized = symbolize::symbolize_and_store(opts.db_path);
      if (!symbolized.ok()) {
        std::fprintf(stderr, "causeway: %s, but symbolizing stacks failed: %s\n", state,
                     symbolized.error().c_str());
      } else if (symbolized->unresolved > 0) {
        std::fprintf(stderr,
                     "causeway: %lld of %lld stack addresses could not be symbolized (shown as "
                     "module+offset with the reason; see docs/stacks.md)\n",
                     static_cast<long long>(symbolized->unresolved),
                     static_cast<long long>(symbolized->addresses));
      }
      if (symbolized.ok() && symbolized->kernels_named < symbolized->kernels) {
        std::fprintf(stderr,
                     "causeway: %lld of %lld kernels launched through the CUDA runtime could not "
                     "be named (see docs/stacks.md#kernel-names)\n",
                     static_cast<long long>(symbolized->kernels - symbolized->kernels_named),
                     static_cast<long long>(symbolized->kernels));
      }
      Status analysed = analyze::analyze_and_store(opts.db_path);
      if (analysed.ok()) {
        std::fprintf(stderr,
                     "causeway: causal chains stored; see them with 'causeway explain --db %s'\n",
                     opts.db_path.c_str());
      } else {
        std::fprintf(stderr, "causeway: %s, but analysing it failed: %s\n", state,
                     analysed.message().c_str());
      }
    }
  });
}

// The full command line, for the trace's meta table: read once from /proc.
[[maybe_unused]] const bool kCommandLineSaved = [] {
  FILE* f = std::fopen("/proc/self/cmdline", "rb");
  if (!f) return false;
  std::string raw;
  char buf[4096];
  size_t n;
  while ((n = std::fread(buf, 1, sizeof(buf), f)) > 0) raw.append(buf, n);
  std::fclose(f);
  std::vector<std::string> parts;
  std::string cur;
  for (char c : raw) {
    if (c == '\0') {
      parts.push_back(cur);
      cur.clear();
    } else {
      cur.push_back(c);
    }
  }
  std::vector<char*> argv;
  for (auto& p : parts) argv.push_back(p.data());
  saved_command_line() = shell_join(static_cast<int>(argv.size()), argv.data());
  return true;
}();

}  // namespace
CAUSEWAY_COMMAND({"trace", "Record CUDA calls and kernel events into a trace database.", 20,
                  &setup_trace});
}  // namespace causeway::cli
