// Writes the MCP fixture trace (tests/mcp/mcp_fixture.h) to the path given, for the wire
// tests and the golden-output script.
#include <cstdio>
#include <filesystem>

#include "mcp/mcp_fixture.h"

int main(int argc, char** argv) {
  if (argc != 2) {
    std::fprintf(stderr, "usage: make_fixture_trace OUT.db\n");
    return 2;
  }
  std::filesystem::remove(argv[1]);
  auto st = causeway::testing::write_fixture_trace(argv[1]);
  if (!st.ok()) {
    std::fprintf(stderr, "make_fixture_trace: %s\n", st.message().c_str());
    return 1;
  }
  return 0;
}
