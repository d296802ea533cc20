#include "cli/command.h"

#include <algorithm>

namespace causeway::cli {
namespace {
std::vector<Command>& registry() {
  static std::vector<Command> commands;  // function-local: safe across static-init order
  return commands;
}
}  // namespace

bool register_command(Command command) {
  auto& all = registry();
  auto pos = std::find_if(all.begin(), all.end(), [&](const Command& c) {
    return c.order > command.order || (c.order == command.order && c.name > command.name);
  });
  all.insert(pos, std::move(command));
  return true;
}

const std::vector<Command>& registered_commands() {
  return registry();
}

}  // namespace causeway::cli
