// `causeway verify`: checks that a trace database is consistent (docs/verify.md). Exit 0 when
// every check passes, 1 when any finds a violation, 2 when the file cannot be read as a trace.
#include <sys/stat.h>

#include <cstdio>
#include <memory>
#include <string>

#include "cli/command.h"
#include "cli/trace_state_note.h"
#include "store/reader.h"
#include "verify/trace_verify.h"

namespace causeway::cli {
namespace {

struct VerifyFlags {
  std::string db;
  bool json = false;
  int max_per_check = 20;
};

int fail(const std::string& sentence) {
  std::fprintf(stderr, "causeway verify: %s\n", sentence.c_str());
  return 2;
}

int run_verify(const VerifyFlags& f) {
  // Reader::open would block opening a FIFO (until a writer appears) and reads devices: only
  // a regular file can be a trace.
  struct stat st {};
  if (stat(f.db.c_str(), &st) == 0 && !S_ISREG(st.st_mode) && !S_ISDIR(st.st_mode)) {
    return fail(f.db + " is not a regular file, so not a causeway trace database.");
  }
  auto reader = store::Reader::open(f.db);
  if (!reader.ok()) return fail(reader.error());
  verify::VerifyOptions opts;
  opts.max_per_kind = f.max_per_check;
  auto report = verify::verify_trace((*reader)->db(), opts);
  if (!report.ok()) return fail(f.db + " could not be verified: " + report.error());
  // Only once the file proved readable: on a corrupt file the note would guess wrong.
  const std::string note = trace_state_note(**reader, f.db);
  if (!note.empty()) std::fputs(note.c_str(), stderr);
  const std::string out = f.json ? verify::to_json(*report).dump(
                                       2, ' ', false, nlohmann::json::error_handler_t::replace) +
                                       "\n"
                                 : verify::format_text(*report, f.db);
  std::fwrite(out.data(), 1, out.size(), stdout);
  return report->ok() ? 0 : 1;
}

void setup_verify(CLI::App& sub, int& exit_code) {
  auto f = std::make_shared<VerifyFlags>();
  sub.add_option("--db", f->db, "Trace database to check (opened read-only)")
      ->required()
      ->option_text("FILE");
  sub.add_flag("--json", f->json,
               "Machine-readable output: {\"ok\", \"checks\": [{\"name\", \"violations\", "
               "\"examples\", ...}]}");
  sub.add_option("--max-per-check", f->max_per_check,
                 "Sentences shown per kind of violation; the rest are counted (default 20)")
      ->check(CLI::NonNegativeNumber)
      ->option_text("N");
  sub.footer(
      "Checks: cpu_exclusive, thread_intervals, runnable_coverage, unique_live_ids, "
      "references, chain_evidence, waker_context. Exit 0 when all pass, 1 when any finds a "
      "violation, 2 when the file is not a readable trace. See docs/verify.md.");
  sub.callback([f, &exit_code] { exit_code = run_verify(*f); });
}

}  // namespace

CAUSEWAY_COMMAND({"verify", "Check that a trace database is consistent (exit 1 on violations)", 38,
                  &setup_verify});

}  // namespace causeway::cli
