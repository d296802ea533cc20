// `causeway report`: the trace as one self-contained HTML page to open or share.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/time_arg.h"
#include "cli/version.h"
#include "common/atomic_file.h"
#include "report/html_report.h"
#include "store/reader.h"

namespace causeway::cli {
namespace {

struct ReportFlags {
  std::string db;
  std::string output;
  std::string since;
  std::string until;
  int64_t pid = 0;
  bool force = false;
};

int fail(const std::string& sentence, int code) {
  std::fprintf(stderr, "causeway report: %s\n", sentence.c_str());
  return code;
}

int run_report(const ReportFlags& f) {
  report::ReportOptions opts;
  opts.source = f.db;
  opts.generator = std::string("causeway ") + kVersion;
  for (const auto& [text, dest, name] : {std::tuple{&f.since, &opts.since_ns, "--since"},
                                         std::tuple{&f.until, &opts.until_ns, "--until"}}) {
    if (text->empty()) continue;
    auto ns = parse_time_arg(*text);
    if (!ns) {
      return fail(std::string(name) + " '" + *text + "' is not a time; give " + kTimeArgHelp + ".",
                  2);
    }
    *dest = *ns;
  }
  if (opts.since_ns && opts.until_ns && *opts.until_ns <= *opts.since_ns) {
    return fail("--until must be later than --since.", 2);
  }
  if (f.pid > 0) opts.pid = static_cast<int32_t>(f.pid);

  struct stat st {};
  if (stat(f.output.c_str(), &st) == 0) {
    if (S_ISDIR(st.st_mode))
      return fail(f.output + " is a directory; give a file name with -o.", 2);
    if (!S_ISREG(st.st_mode)) {
      return fail(f.output + " is not a regular file; give a file name with -o.", 2);
    }
    if (!f.force) {
      return fail(f.output + " already exists; choose another name or pass --force to replace it.",
                  2);
    }
  }

  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) return fail(reader.error(), 2);
  // Stored analysis results skip the analysis' own check; the timelines read times directly.
  if (Status values = store::check_event_values((*reader)->db()); !values.ok()) {
    return fail(f.db + ": " + values.message(), 1);
  }
  auto model = report::build_report((*reader)->db(), opts);
  if (!model.ok()) {
    std::string msg = model.error();
    if (!msg.empty() && msg.back() == '.') msg.pop_back();
    return fail("reading " + f.db + " failed: " + msg + ".", 1);
  }
  const std::string html = report::render_html(*model);
  // All or nothing: a failed write never leaves a truncated report under the final name.
  if (Status st = write_file_atomically(f.output, html); !st.ok()) return fail(st.message(), 1);
  size_t events = 0;
  for (const auto& v : model->views) events += v.events.size();
  std::fprintf(stderr,
               "causeway report: wrote %s (%zu bytes): %zu causal chains, %zu timeline windows "
               "(%zu events), %zu latency histograms\n",
               f.output.c_str(), html.size(), model->chains.size(), model->views.size(), events,
               model->drawn.size());
  return 0;
}

void setup_report(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<ReportFlags>();
  sub.add_option("--db", f->db, "Trace database to report on")->required()->option_text("FILE");
  sub.add_option("-o,--output", f->output, "The HTML file to write")
      ->required()
      ->option_text("FILE");
  sub.add_option("--since", f->since,
                 std::string("Only chains and calls from this time on (") + kTimeArgHelp + ")")
      ->option_text("TIME");
  sub.add_option("--until", f->until, "Only chains and calls before this time (as --since)")
      ->option_text("TIME");
  sub.add_option("--pid", f->pid, "Only chains and calls of this process")
      ->check(CLI::PositiveNumber)
      ->option_text("PID");
  sub.add_flag("--force", f->force, "Replace the output file if it exists");
  sub.footer(
      "One self-contained HTML file (no network access needed to view it): the trace summary, "
      "the ranked causal chains with their evidence and fix, latency histograms per CUDA "
      "function and an interactive timeline around each of the worst chains. Sizes are capped, "
      "so the file stays small for any trace. The trace is never written. See docs/report.md.");
  sub.callback([f, &exit_code] { exit_code = run_report(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"report", "Write a self-contained HTML report to open in a browser or share", 47,
                  &setup_report});

}  // namespace causeway::cli
