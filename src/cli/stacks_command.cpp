// `causeway stacks`: the symbolized call stacks behind CUDA calls (or blocking intervals),
// aggregated, as text, JSON or folded stacks for flame-graph tools.
#include <unistd.h>

#include <cstdio>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>

#include "cli/command.h"
#include "cli/time_arg.h"
#include "store/reader.h"
#include "symbolize/stack_aggregate.h"
#include "symbolize/stack_symbols.h"

namespace causeway::cli {
namespace {

struct StacksFlags {
  std::string db;
  std::string function;
  int64_t pid = 0;
  int64_t tid = 0;
  std::string since;
  std::string until;
  size_t top = 10;
  bool folded = false;
  std::string weight = "ns";
  bool blocked = false;
  bool json = false;
};

std::string fmt_ns(int64_t ns) {
  char buf[32];
  const double v = static_cast<double>(ns);
  if (ns >= 1'000'000'000) {
    std::snprintf(buf, sizeof buf, "%.2f s", v / 1e9);
  } else if (ns >= 1'000'000) {
    std::snprintf(buf, sizeof buf, "%.2f ms", v / 1e6);
  } else if (ns >= 1'000) {
    std::snprintf(buf, sizeof buf, "%.1f us", v / 1e3);
  } else {
    std::snprintf(buf, sizeof buf, "%lld ns", static_cast<long long>(ns));
  }
  return buf;
}

double share_of(const symbolize::AggregatedStack& s, const symbolize::StackAggregate& a) {
  if (a.events_ns > 0) return static_cast<double>(s.total_ns) / static_cast<double>(a.events_ns);
  return a.events > 0 ? static_cast<double>(s.count) / static_cast<double>(a.events) : 0.0;
}

std::string describe_query(const StacksFlags& f) {
  std::string what = f.blocked ? "blocking intervals" : "CUDA calls";
  if (!f.function.empty()) what = f.function + " calls";
  std::string cond;
  auto add = [&cond](const std::string& c) { cond += (cond.empty() ? "" : ", ") + c; };
  if (f.pid > 0) add("pid " + std::to_string(f.pid));
  if (f.tid > 0) add("tid " + std::to_string(f.tid));
  if (!f.since.empty()) add("since " + f.since);
  if (!f.until.empty()) add("until " + f.until);
  return cond.empty() ? what : what + " (" + cond + ")";
}

std::string text_output(const StacksFlags& f, const symbolize::StackAggregate& a) {
  auto n = [](int64_t v, const char* one, const char* many) {
    return std::to_string(v) + " " + (v == 1 ? one : many);
  };
  std::string out = describe_query(f) + ": " + n(a.events, "event", "events") + ", " +
                    fmt_ns(a.events_ns) + "; " + std::to_string(a.with_stack) + " with a stack, " +
                    n(static_cast<int64_t>(a.stacks.size()), "distinct stack", "distinct stacks");
  if (a.events == 0) return out + ".\n";
  const size_t shown = std::min(f.top, a.stacks.size());
  if (shown < a.stacks.size()) out += " (top " + std::to_string(shown) + " by total time)";
  out += ". Frames innermost first.\n";
  for (size_t i = 0; i < shown; ++i) {
    const auto& s = a.stacks[i];
    char head[128];
    std::snprintf(head, sizeof head, "\n#%zu  %lld %s  %s  %.1f%%\n", i + 1,
                  static_cast<long long>(s.count), s.count == 1 ? "event" : "events",
                  fmt_ns(s.total_ns).c_str(), share_of(s, a) * 100.0);
    out += head;
    for (const auto& fr : s.frames) out += "  " + symbolize::describe(fr) + "\n";
    if (symbolize::stack_ends_early(s.frames))
      out += std::string("  ") + symbolize::kStackEndsEarlyNote + "\n";
  }
  return out;
}

std::string folded_output(const StacksFlags& f, const symbolize::StackAggregate& a) {
  std::string out;
  for (const auto& s : a.stacks) {
    const int64_t value = f.weight == "count" ? s.count : s.total_ns;
    if (value <= 0 || s.frames.empty()) continue;
    std::string line;
    for (auto it = s.frames.rbegin(); it != s.frames.rend(); ++it) {
      if (!line.empty()) line += ';';
      line += symbolize::folded_name(*it);
    }
    out += line + " " + std::to_string(value) + "\n";
  }
  return out;
}

nlohmann::json json_output(const StacksFlags& f, const symbolize::StackAggregate& a) {
  nlohmann::json filter = nlohmann::json::object();
  if (!f.function.empty()) filter["function"] = f.function;
  if (f.pid > 0) filter["pid"] = f.pid;
  if (f.tid > 0) filter["tid"] = f.tid;
  if (!f.since.empty()) filter["since"] = f.since;
  if (!f.until.empty()) filter["until"] = f.until;
  nlohmann::json stacks = nlohmann::json::array();
  const size_t shown = std::min(f.top, a.stacks.size());
  for (size_t i = 0; i < shown; ++i) {
    const auto& s = a.stacks[i];
    nlohmann::json frames = nlohmann::json::array();
    for (const auto& fr : s.frames) {
      auto opt = [](const std::string& v) {
        return v.empty() ? nlohmann::json() : nlohmann::json(v);
      };
      nlohmann::json j = nlohmann::json::object();
      j["kind"] = std::string(symbolize::kind_name(fr.kind));
      j["function"] = opt(fr.function);
      j["file"] = opt(fr.file);
      j["line"] = fr.line > 0 ? nlohmann::json(fr.line) : nlohmann::json();
      j["inlined"] = fr.inlined;
      if (fr.pc != 0) {
        char pc[24];
        std::snprintf(pc, sizeof pc, "%#llx", static_cast<unsigned long long>(fr.pc));
        j["pc"] = pc;
      }
      if (!fr.module.empty()) {
        j["module"] = fr.module;
        j["module_offset"] = fr.module_offset;
      }
      frames.push_back(std::move(j));
    }
    stacks.push_back({{"count", s.count},
                      {"total_ns", s.total_ns},
                      {"share", share_of(s, a)},
                      {"stack_ids", s.stack_ids},
                      {"ends_early", symbolize::stack_ends_early(s.frames)},
                      {"frames", std::move(frames)}});
  }
  return {{"source", f.blocked ? "blocked" : "cuda_call"},
          {"filter", std::move(filter)},
          {"events", a.events},
          {"events_ns", a.events_ns},
          {"with_stack", a.with_stack},
          {"distinct_stacks", a.stacks.size()},
          {"stacks", std::move(stacks)},
          {"truncated", shown < a.stacks.size()}};
}

int run_stacks(const StacksFlags& f) {
  symbolize::StackQuery q;
  q.source = f.blocked ? symbolize::StackSource::kBlocked : symbolize::StackSource::kCudaCalls;
  if (!f.function.empty()) {
    if (f.blocked) {
      std::fprintf(stderr,
                   "causeway stacks: --function selects CUDA calls; drop it to see the stacks "
                   "of blocking intervals (--blocked).\n");
      return 2;
    }
    q.function = f.function;
  }
  if (f.pid > 0) q.pid = static_cast<int32_t>(f.pid);
  if (f.tid > 0) q.tid = static_cast<int32_t>(f.tid);
  for (const auto& [text, dest, name] : {std::tuple{&f.since, &q.since_ns, "--since"},
                                         std::tuple{&f.until, &q.until_ns, "--until"}}) {
    if (text->empty()) continue;
    auto ns = parse_time_arg(*text);
    if (!ns) {
      std::fprintf(stderr,
                   "causeway stacks: %s '%s' is not a time; give ns since the trace start or a "
                   "number with a unit (e.g. 2500000000, 2.5s, 1500ms, 250us).\n",
                   name, text->c_str());
      return 2;
    }
    *dest = *ns;
  }
  if (q.since_ns && q.until_ns && *q.until_ns <= *q.since_ns) {
    std::fprintf(stderr, "causeway stacks: --until must be later than --since.\n");
    return 2;
  }
  if (f.top == 0) {
    std::fprintf(stderr, "causeway stacks: --top must be at least 1.\n");
    return 2;
  }

  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) {
    std::fprintf(stderr, "causeway stacks: %s\n", reader.error().c_str());
    return 2;
  }
  // Symbolize once and keep the result in the trace when we may write it (a trace recorded
  // before symbolization existed, or whose end-of-trace step failed); otherwise in memory.
  if (!symbolize::stacks_symbolized((*reader)->db()) &&
      (*reader)->meta("complete").value_or("0") == "1" && !(*reader)->being_recorded() &&
      access(f.db.c_str(), W_OK) == 0) {
    reader->reset();
    (void)symbolize::symbolize_and_store(f.db);
    reader = store::Reader::open(f.db);
    if (!reader.ok()) {
      std::fprintf(stderr, "causeway stacks: %s\n", reader.error().c_str());
      return 2;
    }
  }
  symbolize::StackSymbolizer symbolizer((*reader)->db());
  auto agg = symbolize::aggregate_stacks((*reader)->db(), symbolizer, q);
  if (!agg.ok()) {
    std::fprintf(stderr, "causeway stacks: %s\n", agg.error().c_str());
    return 1;
  }
  std::string out;
  if (f.folded) {
    out = folded_output(f, *agg);
  } else if (f.json) {
    out = json_output(f, *agg).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) + "\n";
  } else {
    out = text_output(f, *agg);
  }
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

void setup_stacks(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<StacksFlags>();
  sub.add_option("--db", f->db, "Trace database")->required()->option_text("FILE");
  sub.add_option("--function", f->function,
                 "Only calls of this CUDA function, e.g. cudaStreamSynchronize")
      ->option_text("NAME");
  sub.add_option("--pid", f->pid, "Only this process")->option_text("PID");
  sub.add_option("--tid", f->tid, "Only this thread")->option_text("TID");
  sub.add_option("--since", f->since,
                 std::string("Only events that end after this; ") + kTimeArgHelp)
      ->option_text("TIME");
  sub.add_option("--until", f->until,
                 std::string("Only events that start before this; ") + kTimeArgHelp)
      ->option_text("TIME");
  sub.add_option("--top", f->top, "Show the N stacks with the most total time (default 10)")
      ->option_text("N");
  sub.add_flag("--blocked", f->blocked,
               "Stacks of blocking intervals (thread sleeping or in uninterruptible wait) "
               "instead of CUDA calls");
  sub.add_flag("--folded", f->folded,
               "Folded stacks for flame graphs (flamegraph.pl, speedscope, inferno): one line "
               "per stack, root first, frames joined by ';', then a space and the total "
               "duration in ns (or the event count with --weight count); every stack, --top "
               "ignored");
  sub.add_option("--weight", f->weight, "Value of a --folded line: ns (default) or count")
      ->check(CLI::IsMember({"ns", "count"}))
      ->option_text("ns|count");
  sub.add_flag("--json", f->json,
               "Machine-readable output: {\"events\", \"events_ns\", \"with_stack\", "
               "\"stacks\": [{\"count\", \"total_ns\", \"share\", \"stack_ids\", \"ends_early\", "
               "\"frames\": "
               "[{\"kind\", \"function\", \"file\", \"line\", \"module\", \"inlined\", ...}]}]}");
  sub.footer(
      "Frames are innermost first (frame 0 is the probed CUDA function). Each frame is "
      "function at file:line from DWARF, or module+0xOFFSET when it cannot be resolved, with "
      "the reason (binary changed since the trace, no longer on disk, no mapping). Python "
      "frames are merged in where the trace has them. A stack whose walk stopped short of the "
      "thread's start (code without frame pointers) ends with a line saying so; trace with "
      "--call-graph dwarf to unwind through such code (docs/stacks.md).");
  sub.callback([f, &exit_code] { exit_code = run_stacks(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"stacks",
                  "Show the symbolized call stacks behind CUDA calls or blocking intervals", 33,
                  &setup_stacks});

}  // namespace causeway::cli
