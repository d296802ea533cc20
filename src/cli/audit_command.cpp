// causeway audit: print or verify the hash-chained audit log written by `causeway mcp`.
#include <cstdio>
#include <fstream>
#include <string>

#include "cli/command.h"
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
      std::fprintf(stderr, "causeway audit: %s: %s\n", flags.file.c_str(), v.problem.c_str());
      return 1;
    }
    std::printf("%s: %lld records, hash chain intact.\n", flags.file.c_str(),
                static_cast<long long>(v.records));
    return 0;
  }
  std::ifstream in(flags.file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "causeway audit: cannot read %s; check the path.\n", flags.file.c_str());
    return 1;
  }
  std::string line;
  int64_t n = 0;
  while (std::getline(in, line)) {
    ++n;
    auto r = mcp::Json::parse(line, nullptr, false);
    if (!r.is_object()) {
      std::printf("line %lld: (not a JSON record)\n", static_cast<long long>(n));
      continue;
    }
    std::printf("%s\n", mcp::render_audit_record(r).c_str());
  }
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
