#include "cli/command.h"

namespace causeway::cli {
namespace {
void setup_check(CLI::App& sub, int& exit_code) {
  sub.callback([&exit_code] { exit_code = 0; });
}
}  // namespace
CAUSEWAY_COMMAND({"check", "Report whether tracing can work on this machine, and why not.", 10, &setup_check});
}  // namespace causeway::cli
