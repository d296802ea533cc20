// `causeway stacks`: the symbolized call stacks behind CUDA calls (or blocking intervals),
// aggregated, as text, JSON or folded stacks for flame-graph tools.
#include <unistd.h>

#include <charconv>
#include <cstdio>
#include <limits>
#include <memory>
#include <nlohmann/json.hpp>
#include <optional>
#include <string>
#include <tuple>
#include <vector>

#include "analyze/chain_store.h"
#include "cli/command.h"
#include "cli/time_arg.h"
#include "cli/trace_state_note.h"
#include "common/suggest.h"
#include "common/terminal_text.h"
#include "store/reader.h"
#include "store/sql_util.h"
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
  // Text, parsed here: a negative or overflowing N must be refused like 0, not wrap or
  // saturate to "all".
  std::string top = "10";
  bool folded = false;
  std::string weight = "ns";
  bool blocked = false;
  bool json = false;
  // Given on the command line at all: `--function ""` or `--pid 0` must be refused, not taken
  // for "no filter".
  bool function_given = false;
  bool pid_given = false;
  bool tid_given = false;
  bool weight_given = false;
  bool top_given = false;  // with --folded: only the top N lines (else every stack)
};

// What the trace says about its own stacks and state, for the notes around the results.
struct TraceFacts {
  std::string call_graph;       // meta call_graph: fp, dwarf,BYTES, off ("" when unknown)
  bool stacks_recorded = true;  // false for a trace recorded with --no-stacks
  std::string empty_reason;     // why nothing matched, when nothing did and that is no error
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
  if (f.pid_given) add("pid " + std::to_string(f.pid));
  if (f.tid_given) add("tid " + std::to_string(f.tid));
  if (!f.since.empty()) add("since " + f.since);
  if (!f.until.empty()) add("until " + f.until);
  return cond.empty() ? what : what + " (" + cond + ")";
}

std::string no_stacks_note(const TraceFacts& t) {
  return "this trace was recorded with --no-stacks (meta call_graph=" +
         (t.call_graph.empty() ? std::string("off") : t.call_graph) +
         "), so it has no call stacks; record it again without --no-stacks to get them.";
}

// The sentence, if any, that the results need: why nothing matched, or that the trace has no
// stacks at all. Empty when the stacks speak for themselves.
std::string result_note(const TraceFacts& t, const symbolize::StackAggregate& a) {
  if (a.events == 0) return t.empty_reason;
  if (!t.stacks_recorded) return no_stacks_note(t);
  return "";
}

// --top as a count; 0 when it is not a whole number of at least 1 (refused before use).
size_t top_of(const StacksFlags& f) {
  uint64_t n = 0;
  const char* end = f.top.data() + f.top.size();
  auto [ptr, ec] = std::from_chars(f.top.data(), end, n);
  if (ec != std::errc() || ptr != end) return 0;
  return static_cast<size_t>(n);
}

size_t shown_of(const StacksFlags& f, const symbolize::StackAggregate& a) {
  return std::min(top_of(f), a.stacks.size());
}

std::string text_output(const StacksFlags& f, const TraceFacts& t,
                        const symbolize::StackAggregate& a) {
  auto n = [](int64_t v, const char* one, const char* many) {
    return std::to_string(v) + " " + (v == 1 ? one : many);
  };
  if (a.events == 0) return describe_query(f) + ": no events; " + t.empty_reason + "\n";
  std::string out =
      describe_query(f) + ": " + n(a.events, "event", "events") + ", " + fmt_ns(a.events_ns) + "; ";
  if (!t.stacks_recorded) return out + no_stacks_note(t) + "\n";
  out += std::to_string(a.with_stack) + " with a stack, " +
         n(static_cast<int64_t>(a.stacks.size()), "distinct stack", "distinct stacks");
  const size_t shown = shown_of(f, a);
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
      out += "  " + symbolize::stack_ends_early_note(t.call_graph) + "\n";
  }
  return out;
}

std::string folded_output(const StacksFlags& f, const symbolize::StackAggregate& a) {
  std::string out;
  // A flame graph wants every stack, so --top limits the lines only when given explicitly.
  const size_t lines = f.top_given ? shown_of(f, a) : a.stacks.size();
  for (size_t i = 0; i < lines; ++i) {
    const auto& s = a.stacks[i];
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

nlohmann::json json_output(const StacksFlags& f, const TraceFacts& t,
                           const symbolize::StackAggregate& a) {
  nlohmann::json filter = nlohmann::json::object();
  if (!f.function.empty()) filter["function"] = f.function;
  if (f.pid_given) filter["pid"] = f.pid;
  if (f.tid_given) filter["tid"] = f.tid;
  if (!f.since.empty()) filter["since"] = f.since;
  if (!f.until.empty()) filter["until"] = f.until;
  nlohmann::json stacks = nlohmann::json::array();
  const size_t shown = shown_of(f, a);
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
  const std::string note = result_note(t, a);
  return {{"source", f.blocked ? "blocked" : "cuda_call"},
          {"filter", std::move(filter)},
          {"events", a.events},
          {"events_ns", a.events_ns},
          {"with_stack", a.with_stack},
          {"distinct_stacks", a.stacks.size()},
          {"stacks", std::move(stacks)},
          {"truncated", shown < a.stacks.size()},
          {"stacks_recorded", t.stacks_recorded},
          {"call_graph", t.call_graph.empty() ? nlohmann::json() : nlohmann::json(t.call_graph)},
          {"note", note.empty() ? nlohmann::json() : nlohmann::json(note)}};
}

// "20181 scenario_host_s, 20190 loader" — the first few traced processes, for a sentence.
std::string some_processes(const analyze::TraceStats& stats) {
  constexpr size_t kListed = 5;
  std::string out;
  for (size_t i = 0; i < stats.processes.size() && i < kListed; ++i) {
    const auto& p = stats.processes[i];
    out +=
        (i ? ", " : "") + std::to_string(p.pid) + (p.name.empty() ? "" : " " + quoted_name(p.name));
  }
  if (stats.processes.size() > kListed) {
    out += " and " + std::to_string(stats.processes.size() - kListed) + " more";
  }
  return out;
}

// "4796 scenario_host_s, 4797 sim-gpu" — the first few traced threads, for a sentence.
Result<std::string> some_threads(sqlite3* db) {
  constexpr int64_t kListed = 6;
  store::sql::Stmt st(db,
                      "SELECT tid, name, count(*) OVER () FROM thread WHERE traced ORDER BY tid "
                      "LIMIT ?1");
  if (!st.ok()) return store::sql::query_error(db, "threads");
  st.bind(1, kListed);
  std::string out;
  int64_t total = 0;
  while (st.step() == SQLITE_ROW) {
    const std::string name = st.is_null(1) ? "" : st.text(1);
    out += (out.empty() ? "" : ", ") + std::to_string(st.i64(0)) + (name.empty() ? "" : " " + name);
    total = st.i64(2);
  }
  if (total > kListed) out += " and " + std::to_string(total - kListed) + " more";
  return out.empty() ? std::string("none") : out;
}

// Why a query matched no event. A filter naming something the trace does not have (a CUDA
// function never called, a pid or tid that is not in it, a --since past its end) is bad input:
// an error, because "0 events" would read as "it never happened". Otherwise (every filter
// names something real, they just select nothing together) the sentence saying so. `live`:
// the trace is still being recorded.
Result<std::string> why_nothing(sqlite3* db, const StacksFlags& f, bool live) {
  namespace sql = store::sql;
  auto stats = analyze::stats_for_reader(db);
  if (!stats.ok()) return stats.status();
  if (!f.blocked && stats->apis.empty()) {
    return std::string(
        "this trace has no CUDA calls. Was the workload linked against libcudart/libcuda, and "
        "did tracing start before its first CUDA call?");
  }
  if (!f.function.empty()) {
    std::vector<std::string> names;  // by total time, as `causeway stats` lists them
    bool known = false;
    for (const auto& api : stats->apis) {
      names.push_back(api.name);
      known = known || api.name == f.function;
    }
    if (!known) {
      const auto close = closest_names(f.function, names);
      std::string hint;
      if (!close.empty()) {
        hint = "did you mean ";
        for (size_t i = 0; i < close.size(); ++i) {
          hint += (i == 0 ? "" : i + 1 == close.size() ? " or " : ", ") + close[i];
        }
        hint += " (`causeway stats` lists the CUDA functions it called)?";
      } else {
        hint = "it called ";
        for (size_t i = 0; i < names.size() && i < 3; ++i) hint += (i ? ", " : "") + names[i];
        hint += names.size() > 3 ? ", ... (`causeway stats` lists them all)." : ".";
      }
      return Status::Error("no CUDA function '" + f.function + "' in this trace; " + hint);
    }
  }
  // Only traced processes and threads have events; the others (a waker, a parent) are in the
  // trace as names only, so asking for them is the same mistake as asking for an unknown one.
  std::optional<int64_t> tid_pid;  // the process of --tid
  if (f.tid_given) {
    sql::Stmt st(db,
                 "SELECT p.pid FROM thread t LEFT JOIN process p USING (upid) WHERE t.tid = ?1 "
                 "AND t.traced ORDER BY (p.pid = ?2) DESC");
    if (!st.ok()) return sql::query_error(db, "threads");
    st.bind(1, f.tid);
    st.bind(2, f.pid);
    if (st.step() != SQLITE_ROW) {
      auto threads = some_threads(db);
      if (!threads.ok()) return threads.status();
      return Status::Error("tid " + std::to_string(f.tid) +
                           " is not one of the traced threads; they are " + *threads + ".");
    }
    if (!st.is_null(0)) tid_pid = st.i64(0);
  }
  if (f.pid_given) {
    sql::Stmt st(db, "SELECT 1 FROM process WHERE pid = ?1 AND traced");
    if (!st.ok()) return sql::query_error(db, "processes");
    st.bind(1, f.pid);
    if (st.step() != SQLITE_ROW) {
      return Status::Error("pid " + std::to_string(f.pid) +
                           " is not one of the traced processes; they are " +
                           some_processes(*stats) + ".");
    }
    if (tid_pid && *tid_pid != f.pid) {
      return Status::Error("tid " + std::to_string(f.tid) + " is a thread of pid " +
                           std::to_string(*tid_pid) + ", not of pid " + std::to_string(f.pid) +
                           "; drop --pid or give --pid " + std::to_string(*tid_pid) + ".");
    }
  }
  if (!f.since.empty()) {
    const auto since = parse_time_arg(f.since);
    if (since && stats->duration_ns > 0 && *since >= stats->duration_ns) {
      // A trace still being recorded has no end yet: what is past is its end so far.
      return Status::Error("--since " + f.since + " is past the end of the trace, which is " +
                           fmt_ns(stats->duration_ns) + " long" +
                           (live ? " so far (it is still being recorded)." : "."));
    }
  }
  const char* what = f.blocked ? "blocking intervals" : "CUDA calls";
  if (f.function.empty() && f.since.empty() && f.until.empty() && (f.pid_given || f.tid_given)) {
    const std::string who =
        f.tid_given ? "thread " + std::to_string(f.tid) : "process " + std::to_string(f.pid);
    return who + (f.blocked ? " never blocked (slept or waited for I/O) while traced."
                            : " made no CUDA calls (`causeway stats` shows which processes did).");
  }
  if (f.blocked && f.since.empty() && f.until.empty()) {
    return std::string("no traced thread blocked (slept or waited for I/O) in this trace.");
  }
  return std::string("each filter names something in the trace, but no ") + what +
         " match them all together; widen one of them.";
}

int run_stacks(const StacksFlags& f) {
  auto bad = [](const std::string& sentence) {
    std::fprintf(stderr, "causeway stacks: %s\n", sentence.c_str());
    return 2;
  };
  // Options that contradict each other, or that would be silently ignored, are refused: the
  // user meant something by each of them.
  if (f.folded && f.json) return bad("--folded and --json are alternatives; pick one.");
  if (f.weight_given && !f.folded) {
    return bad("--weight sets the value of --folded lines; add --folded or drop --weight.");
  }
  symbolize::StackQuery q;
  q.source = f.blocked ? symbolize::StackSource::kBlocked : symbolize::StackSource::kCudaCalls;
  if (f.function_given) {
    if (f.blocked) {
      return bad(
          "--function selects CUDA calls; drop it to see the stacks of blocking intervals "
          "(--blocked).");
    }
    if (f.function.empty()) {
      return bad(
          "--function needs a CUDA function name, e.g. cudaStreamSynchronize (`causeway "
          "stats` lists the ones in the trace).");
    }
    q.function = f.function;
  }
  // Kernel ids are positive 32-bit numbers; anything else can only be a mistake, and taking
  // it for "no filter" would show every process under a label that says otherwise.
  constexpr int64_t kMaxId = std::numeric_limits<int32_t>::max();
  if (f.pid_given) {
    if (f.pid <= 0 || f.pid > kMaxId) {
      return bad(
          "--pid must be a positive process id (`causeway stats` lists the trace's "
          "processes).");
    }
    q.pid = static_cast<int32_t>(f.pid);
  }
  if (f.tid_given) {
    if (f.tid <= 0 || f.tid > kMaxId) {
      return bad(
          "--tid must be a positive thread id (`causeway stats` lists the trace's "
          "processes; a main thread's tid is its pid).");
    }
    q.tid = static_cast<int32_t>(f.tid);
  }
  for (const auto& [text, dest, name] : {std::tuple{&f.since, &q.since_ns, "--since"},
                                         std::tuple{&f.until, &q.until_ns, "--until"}}) {
    if (text->empty()) continue;
    auto ns = parse_time_arg(*text);
    if (!ns) {
      return bad(std::string(name) + " '" + *text +
                 "' is not a time; give ns since the trace start or a number with a unit (e.g. "
                 "2500000000, 2.5s, 1500ms, 250us).");
    }
    *dest = *ns;
  }
  if (q.since_ns && q.until_ns && *q.until_ns <= *q.since_ns) {
    return bad("--until must be later than --since.");
  }
  if (top_of(f) < 1) {
    return bad("--top must be a whole number of at least 1 (e.g. --top 20), not '" + f.top + "'.");
  }

  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) return bad(reader.error());
  // Partial results must not look complete: the same note `explain` and `stats` print.
  const std::string state_note = trace_state_note(**reader, f.db);
  if (!state_note.empty()) std::fputs(state_note.c_str(), stderr);
  // Symbolize once and keep the result in the trace when we may write it (a trace recorded
  // before symbolization existed, or whose end-of-trace step failed); otherwise in memory.
  if (!symbolize::stacks_symbolized((*reader)->db()) &&
      (*reader)->meta("complete").value_or("0") == "1" && !(*reader)->being_recorded() &&
      access(f.db.c_str(), W_OK) == 0) {
    reader->reset();
    (void)symbolize::symbolize_and_store(f.db);
    reader = store::Reader::open(f.db);
    if (!reader.ok()) return bad(reader.error());
  }
  TraceFacts facts;
  facts.call_graph = (*reader)->meta("call_graph").value_or("");
  facts.stacks_recorded =
      (*reader)->meta("stacks").value_or("on") != "off" && facts.call_graph != "off";
  symbolize::StackSymbolizer symbolizer((*reader)->db());
  auto agg = symbolize::aggregate_stacks((*reader)->db(), symbolizer, q);
  if (!agg.ok()) {
    std::fprintf(stderr, "causeway stacks: %s\n", agg.error().c_str());
    return 1;
  }
  if (agg->events == 0) {
    auto why = why_nothing((*reader)->db(), f, (*reader)->being_recorded());
    if (!why.ok()) return bad(why.error());
    facts.empty_reason = std::move(*why);
  }
  std::string out;
  if (f.folded) {
    out = folded_output(f, *agg);
    // stdout is flame-graph input; the explanation of an empty one goes beside it.
    const std::string note = result_note(facts, *agg);
    if (!note.empty()) std::fprintf(stderr, "causeway stacks: %s\n", note.c_str());
  } else if (f.json) {
    out =
        json_output(f, facts, *agg).dump(2, ' ', false, nlohmann::json::error_handler_t::replace) +
        "\n";
  } else {
    out = text_output(f, facts, *agg);
  }
  // Names in the text come from the traced program: nothing in them may drive the terminal.
  out = terminal_safe_text(out);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return 0;
}

void setup_stacks(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<StacksFlags>();
  sub.add_option("--db", f->db, "Trace database")->required()->option_text("FILE");
  auto* function = sub.add_option("--function", f->function,
                                  "Only calls of this CUDA function, e.g. cudaStreamSynchronize")
                       ->option_text("NAME");
  auto* pid = sub.add_option("--pid", f->pid, "Only this process")->option_text("PID");
  auto* tid = sub.add_option("--tid", f->tid, "Only this thread")->option_text("TID");
  sub.add_option("--since", f->since,
                 std::string("Only events that end after this; ") + kTimeArgHelp)
      ->option_text("TIME");
  sub.add_option("--until", f->until,
                 std::string("Only events that start before this; ") + kTimeArgHelp)
      ->option_text("TIME");
  auto* top =
      sub.add_option(
             "--top", f->top,
             "Show the N stacks with the most total time (default 10; with --folded every stack "
             "unless --top is given)")
          ->option_text("N");
  sub.add_flag("--blocked", f->blocked,
               "Stacks of blocking intervals (thread sleeping or in uninterruptible wait) "
               "instead of CUDA calls");
  sub.add_flag("--folded", f->folded,
               "Folded stacks for flame graphs (flamegraph.pl, speedscope, inferno): one line "
               "per stack, root first, frames joined by ';', then a space and the total "
               "duration in ns (or the event count with --weight count); every stack, or the "
               "--top N with the most total time");
  auto* weight =
      sub.add_option("--weight", f->weight,
                     "Value of a --folded line: ns (default) or count (with --folded only)")
          ->check(CLI::IsMember({"ns", "count"}))
          ->option_text("ns|count");
  sub.add_flag("--json", f->json,
               "Machine-readable output: {\"events\", \"events_ns\", \"with_stack\", "
               "\"stacks\": [{\"count\", \"total_ns\", \"share\", \"stack_ids\", \"ends_early\", "
               "\"frames\": "
               "[{\"kind\", \"function\", \"file\", \"line\", \"module\", \"inlined\", ...}]}], "
               "\"stacks_recorded\", \"call_graph\", \"note\"}; note says why nothing matched "
               "or that the trace has no stacks");
  sub.footer(
      "Frames are innermost first (frame 0 is the probed CUDA function). Each frame is "
      "function at file:line from DWARF, or module+0xOFFSET when it cannot be resolved, with "
      "the reason (binary changed since the trace, no longer on disk, no mapping). Python "
      "frames are merged in where the trace has them. A stack whose walk stopped short of the "
      "thread's start ends with a line saying so and what to do (after --call-graph fp, code "
      "without frame pointers: trace with --call-graph dwarf; docs/stacks.md). A filter naming "
      "something the trace does not have (a CUDA function it never called, a pid or tid it did "
      "not trace, a --since past its end) is refused with what it does have.");
  sub.callback([f, function, pid, tid, weight, top, &exit_code] {
    f->function_given = function->count() > 0;
    f->pid_given = pid->count() > 0;
    f->tid_given = tid->count() > 0;
    f->weight_given = weight->count() > 0;
    f->top_given = top->count() > 0;
    exit_code = run_stacks(*f);
  });
}

}  // namespace

CAUSEWAY_COMMAND({"stacks",
                  "Show the symbolized call stacks behind CUDA calls or blocking intervals", 33,
                  &setup_stacks});

}  // namespace causeway::cli
