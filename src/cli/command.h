// Subcommand registry. Each src/cli/<name>_command.cpp registers itself with
// CAUSEWAY_COMMAND; main.cpp only dispatches. Only src/cli parses command-line flags.
#pragma once

#include <CLI/CLI.hpp>

#include <functional>
#include <string>
#include <vector>

namespace causeway::cli {

// `setup` adds the subcommand's options to `sub` and a callback that runs it and stores the
// process exit status in `exit_code`. Called once, at start-up, on the main thread.
struct Command {
  std::string name;
  std::string summary;  // one line for `causeway --help`
  int order = 100;      // position in --help (lower first)
  std::function<void(CLI::App& sub, int& exit_code)> setup;
};

// Registers a command at static-initialization time; returns true so it can seed a static.
bool register_command(Command command);
const std::vector<Command>& registered_commands();

}  // namespace causeway::cli

#define CAUSEWAY_CLI_CONCAT_(a, b) a##b
#define CAUSEWAY_CLI_CONCAT(a, b) CAUSEWAY_CLI_CONCAT_(a, b)
// Usage at namespace scope: CAUSEWAY_COMMAND({"name", "summary", 10, &setup_fn});
#define CAUSEWAY_COMMAND(...)                                                     \
  [[maybe_unused]] static const bool CAUSEWAY_CLI_CONCAT(registered_, __LINE__) = \
      ::causeway::cli::register_command(::causeway::cli::Command __VA_ARGS__)
