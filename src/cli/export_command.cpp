// `causeway export`: the trace as a timeline file for ui.perfetto.dev / chrome://tracing.
#include <sys/stat.h>

#include <cerrno>
#include <cstdio>
#include <cstring>
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "cli/command.h"
#include "cli/time_arg.h"
#include "common/atomic_file.h"
#include "export/perfetto_json.h"
#include "store/reader.h"

namespace causeway::cli {
namespace {

struct ExportFlags {
  std::string db;
  std::string format = "perfetto";
  std::string output;
  std::string since;
  std::string until;
  std::vector<int64_t> pids;
  bool force = false;
};

int fail(const std::string& sentence, int code) {
  std::fprintf(stderr, "causeway export: %s\n", sentence.c_str());
  return code;
}

int run_export(const ExportFlags& f) {
  timeline::ExportOptions opts;
  opts.source = f.db;
  for (const auto& [text, dest, name] : {std::tuple{&f.since, &opts.since_ns, "--since"},
                                         std::tuple{&f.until, &opts.until_ns, "--until"}}) {
    if (text->empty()) continue;
    auto ns = parse_time_arg(*text);
    if (!ns) {
      return fail(std::string(name) + " '" + *text +
                      "' is not a time; give ns since the trace start or a number with a unit "
                      "(e.g. 1500000, 1.5s, 200ms, 250us).",
                  2);
    }
    *dest = *ns;
  }
  if (opts.since_ns && opts.until_ns && *opts.until_ns <= *opts.since_ns) {
    return fail("--until must be later than --since.", 2);
  }
  for (int64_t pid : f.pids) opts.pids.push_back(static_cast<int32_t>(pid));

  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) return fail(reader.error(), 2);
  // Stored analysis results skip the analysis' own check; the timelines read times directly.
  if (Status values = store::check_event_values((*reader)->db()); !values.ok()) {
    return fail(f.db + ": " + values.message(), 1);
  }

  const bool to_stdout = f.output == "-";
  bool direct = to_stdout;  // written in place (stdout, a device, a FIFO)
  if (!to_stdout) {
    struct stat st {};
    if (stat(f.output.c_str(), &st) == 0) {
      if (S_ISDIR(st.st_mode)) {
        return fail(f.output + " is a directory; give a file name with -o.", 2);
      }
      if (S_ISREG(st.st_mode)) {
        // Like `causeway trace --db`, an existing file is never replaced silently.
        if (!f.force) {
          return fail(
              f.output + " already exists; choose another name or pass --force to replace it.", 2);
        }
      } else {
        // A character device or FIFO (/dev/stdout, a named pipe): write into it; never
        // rename over it.
        direct = true;
      }
    }
  }
  // A regular file is written all or nothing (common/atomic_file.h), so a failed or
  // interrupted export never leaves a truncated file under the final name.
  std::optional<AtomicFile> file;
  std::FILE* out = stdout;
  if (!direct) {
    auto created = AtomicFile::create(f.output);
    if (!created.ok()) return fail(created.error(), 1);
    file.emplace(std::move(created).value());
    out = file->stream();
  } else if (!to_stdout) {
    out = std::fopen(f.output.c_str(), "wb");
    if (!out) {
      return fail("cannot write " + f.output + ": " + std::strerror(errno) + ".", 1);
    }
  }
  auto summary = timeline::write_perfetto_json((*reader)->db(), opts, out);
  if (file) {
    // On failure the AtomicFile's destructor removes the temporary file.
    if (summary.ok()) {
      if (Status st = file->commit(); !st.ok()) return fail(st.message(), 1);
    }
  } else if (!to_stdout) {
    const bool closed = std::fclose(out) == 0;
    if (summary.ok() && !closed)
      summary = Status::Error(std::string("writing failed: ") + std::strerror(errno));
  }
  if (!summary.ok()) {
    std::string msg = summary.error();
    if (!msg.empty() && msg.back() == '.') msg.pop_back();
    return fail(
        "exporting " + f.db + " to " + (to_stdout ? "stdout" : f.output) + " failed: " + msg + ".",
        1);
  }
  const auto& s = *summary;
  std::fprintf(stderr,
               "causeway export: wrote %lld events (%lld CUDA calls, %lld thread states, %lld "
               "syscalls, %lld block I/O, %lld wakeup flows, %lld chains, %lld CPU slices) on "
               "%lld tracks, %lld bytes, to %s\n",
               static_cast<long long>(s.events()), static_cast<long long>(s.cuda_calls),
               static_cast<long long>(s.thread_states), static_cast<long long>(s.syscalls),
               static_cast<long long>(s.block_ios), static_cast<long long>(s.flows),
               static_cast<long long>(s.chains), static_cast<long long>(s.cpu_slices),
               static_cast<long long>(s.tracks), static_cast<long long>(s.bytes),
               to_stdout ? "stdout" : f.output.c_str());
  return 0;
}

void setup_export(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<ExportFlags>();
  sub.add_option("--db", f->db, "Trace database to export")->required()->option_text("FILE");
  sub.add_option("--format", f->format,
                 "Output format: perfetto (Chrome trace-event JSON, opened by ui.perfetto.dev "
                 "and chrome://tracing)")
      ->check(CLI::IsMember({"perfetto"}))
      ->option_text("FORMAT");
  sub.add_option("-o,--output", f->output, "Output file, or - for stdout")
      ->required()
      ->option_text("FILE");
  sub.add_option("--since", f->since,
                 "Only events that overlap this time or later (ns since the trace start, or "
                 "with a unit: 1.5s, 200ms, 250us)")
      ->option_text("TIME");
  sub.add_option("--until", f->until, "Only events that start before this time (as --since)")
      ->option_text("TIME");
  sub.add_option("--pid", f->pids, "Only threads of this process (repeatable)")
      ->check(CLI::PositiveNumber)
      ->option_text("PID");
  sub.add_flag("--force", f->force, "Replace the output file if it exists");
  sub.footer(
      "One track per thread with its CUDA calls, plus per-thread state and syscall tracks, "
      "per-device block I/O tracks, wakeup flows, causal-chain regions and per-CPU tracks of "
      "who held each CPU (runnable slices name them too). Output is streamed: memory stays "
      "constant however large the trace. See docs/export.md.");
  sub.callback([f, &exit_code] { exit_code = run_export(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"export", "Write the trace as a timeline for ui.perfetto.dev / chrome://tracing",
                  45, &setup_export});

}  // namespace causeway::cli
