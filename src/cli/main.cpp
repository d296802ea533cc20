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
  // An unknown word where the command belongs deserves a direct answer, not CLI11's
  // "a subcommand is required".
  if (argc > 1 && argv[1][0] != '-') {
    std::string known;
    bool found = false;
    for (const auto& command : causeway::cli::registered_commands()) {
      found = found || command.name == argv[1];
      known += (known.empty() ? "" : ", ") + command.name;
    }
    if (!found) {
      std::fprintf(stderr,
                   "causeway: unknown command '%s' (commands: %s). Run 'causeway --help'.\n",
                   argv[1], known.c_str());
      return 2;
    }
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
    // One sentence and a pointer to the right help, never a page of CLI11 text.
    std::string message = e.what();
    while (!message.empty() && (message.back() == '\n' || message.back() == ' '))
      message.pop_back();
    if (!message.empty() && message.back() != '.') message += '.';
    std::string help = "causeway --help";
    for (const auto* sub : app.get_subcommands()) help = "causeway " + sub->get_name() + " --help";
    std::fprintf(stderr, "causeway: %s Run '%s' for usage.\n", message.c_str(), help.c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "causeway: %s\n", e.what());
    return 1;
  }
  return exit_code;
}
