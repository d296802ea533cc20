// causeway audit: print or verify the hash-chained audit log written by `causeway mcp`.
#include <cstdio>
#include <string>

#include "cli/command.h"
#include "common/terminal_text.h"
#include "mcp/audit_log.h"

namespace causeway::cli {
namespace {

struct AuditFlags {
  std::string file;
  bool verify = false;
};

int run_audit(const AuditFlags& flags) {
  if (flags.verify) {
    auto v = mcp::verify_audit_log(flags.file);
    if (!v.ok) {
      std::fprintf(stderr, "causeway audit: %s: %s\n", terminal_safe(flags.file).c_str(),
                   v.problem.c_str());
      return 1;
    }
    std::printf("%s: %lld records, hash chain intact.\n", terminal_safe(flags.file).c_str(),
                static_cast<long long>(v.records));
    return 0;
  }
  std::FILE* in = std::fopen(flags.file.c_str(), "rb");
  if (!in) {
    std::fprintf(stderr, "causeway audit: cannot read %s; check the path.\n",
                 terminal_safe(flags.file).c_str());
    return 1;
  }
  // Records are bounded (mcp::kMaxAuditRecordBytes), so a longer line is not one of ours and is
  // skipped without being held in memory.
  mcp::AuditLineReader reader(in, mcp::kMaxAuditRecordBytes);
  std::string line;
  bool terminated = false;
  int64_t n = 0;
  for (;;) {
    auto status = reader.next(line, terminated);
    if (status == mcp::AuditLineReader::Status::kEof) break;
    ++n;
    if (status == mcp::AuditLineReader::Status::kOverlong) {
      std::printf("line %lld: (longer than any audit record)\n", static_cast<long long>(n));
      continue;
    }
    if (!terminated) {
      std::printf("line %lld: (a record cut short: the writer stopped in the middle)\n",
                  static_cast<long long>(n));
      continue;
    }
    auto r = mcp::parse_audit_line(line);
    if (!r.is_object()) {
      std::printf("line %lld: (not a JSON record)\n", static_cast<long long>(n));
      continue;
    }
    std::printf("%s\n", mcp::render_audit_record(r).c_str());
  }
  std::fclose(in);
  return 0;
}

void setup_audit(CLI::App& sub, int& exit_code) {
  auto flags = std::make_shared<AuditFlags>();
  sub.add_option("FILE", flags->file, "Audit log (e.g. run.db.audit.jsonl)")->required();
  sub.add_flag("--verify", flags->verify,
               "Check the hash chain; exit non-zero naming the first bad record");
  sub.callback([flags, &exit_code] { exit_code = run_audit(*flags); });
}

}  // namespace
CAUSEWAY_COMMAND({"audit", "Print or verify the audit log of MCP interactions.", 45, &setup_audit});
}  // namespace causeway::cli
