// causeway mcp: serve one trace database to an AI agent over MCP (stdio).
#include <sys/stat.h>

#include <csignal>
#include <cstdio>
#include <filesystem>
#include <string>

#include "cli/command.h"
#include "cli/version.h"
#include "mcp/audit_log.h"
#include "mcp/server.h"
#include "mcp/stdio_transport.h"
#include "mcp/trace_db.h"

namespace causeway::cli {
namespace {

struct McpFlags {
  std::string db;
  std::string audit_log;
  int64_t time_limit_ms = 10'000;
  size_t max_line_bytes = mcp::kDefaultMaxLineBytes;
};

// Whether `a` and `b` name the same file: the same device and inode (a hard link or symlink
// to the trace has another path but is the trace), or, for files that do not exist yet, the
// same canonical path.
bool same_file(const std::string& a, const std::string& b) {
  struct stat sa {
  }, sb{};
  if (stat(a.c_str(), &sa) == 0 && stat(b.c_str(), &sb) == 0) {
    return sa.st_dev == sb.st_dev && sa.st_ino == sb.st_ino;
  }
  std::error_code ec;
  auto ca = std::filesystem::weakly_canonical(a, ec);
  auto cb = std::filesystem::weakly_canonical(b, ec);
  return ca == cb;
}

int run_mcp(const McpFlags& flags) {
  auto db = mcp::TraceDb::open(flags.db);
  if (!db.ok()) {
    std::fprintf(stderr, "causeway mcp: %s\n", db.error().c_str());
    return 1;
  }
  std::string audit_path = flags.audit_log.empty() ? flags.db + ".audit.jsonl" : flags.audit_log;
  for (const char* suffix : {"", "-wal", "-shm", "-journal"}) {
    if (same_file(audit_path, flags.db + suffix)) {
      std::fprintf(stderr,
                   "causeway mcp: the audit log must not be the trace database or its journal; "
                   "pass another --audit-log FILE.\n");
      return 1;
    }
  }
  auto audit = mcp::AuditLog::open(audit_path);
  if (!audit.ok()) {
    std::fprintf(stderr, "causeway mcp: %s\n", audit.error().c_str());
    return 1;
  }
  // A vanished client must surface as a write error, not kill the process mid-audit.
  std::signal(SIGPIPE, SIG_IGN);
  mcp::ServerOptions options;
  options.server_version = kVersion;
  options.limits.time_limit_ms = flags.time_limit_ms;
  mcp::Server server(**db, audit->get(), options);
  std::fprintf(stderr, "causeway mcp: serving %s over stdio (audit log %s)\n", flags.db.c_str(),
               audit_path.c_str());
  return server.serve(0, 1, flags.max_line_bytes);
}

void setup_mcp(CLI::App& sub, int& exit_code) {
  auto flags = std::make_shared<McpFlags>();
  sub.add_option("--db", flags->db, "Trace database to serve (read-only)")->required();
  sub.add_option("--audit-log", flags->audit_log,
                 "Append the audit log here (default: <db>.audit.jsonl next to the database)");
  sub.add_option("--time-limit-ms", flags->time_limit_ms,
                 "Wall-clock limit for one query, in milliseconds")
      ->check(CLI::Range(int64_t{10}, int64_t{600'000}));
  sub.add_option("--max-line-bytes", flags->max_line_bytes,
                 "Longest accepted JSON-RPC message, in bytes")
      ->check(CLI::Range(size_t{1024}, size_t{64} * 1024 * 1024));
  sub.callback([flags, &exit_code] { exit_code = run_mcp(*flags); });
}

}  // namespace
CAUSEWAY_COMMAND({"mcp", "Serve a trace to AI agents over MCP (stdio), read-only and audited.", 40,
                  &setup_mcp});
}  // namespace causeway::cli
