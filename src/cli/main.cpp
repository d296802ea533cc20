// causeway: one binary, subcommands. This file only dispatches; each subcommand lives in
// its own src/cli/<name>_command.cpp.
#include <cstdio>
#include <exception>
#include <string>

#include "cli/command.h"
#include "cli/version.h"

int main(int argc, char** argv) {
  CLI::App app{
      "causeway: MCP-native observability for GPU workloads.\n"
      "Traces CUDA calls and kernel events into a SQLite trace database, explains latency\n"
      "as causal chains, and serves the trace to AI agents over MCP.",
      "causeway"};
  app.set_version_flag("--version", std::string("causeway ") + causeway::cli::kVersion);
  app.require_subcommand(1);
  app.footer("Run 'causeway <command> --help' for a command's flags.");
  int exit_code = 0;
  for (const auto& command : causeway::cli::registered_commands()) {
    CLI::App* sub = app.add_subcommand(command.name, command.summary);
    command.setup(*sub, exit_code);
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::CallForHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForAllHelp& e) {
    return app.exit(e);
  } catch (const CLI::CallForVersion& e) {
    return app.exit(e);
  } catch (const CLI::ParseError& e) {
    // One sentence and a pointer to help, never a stack of CLI11 text.
    std::fprintf(stderr, "causeway: %s Run 'causeway --help' for usage.\n", e.what());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "causeway: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
