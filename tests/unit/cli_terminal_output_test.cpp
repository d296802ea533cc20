// Issue 16 item 16: names in a trace are whatever the traced program chose. `stats`, `explain`
// and `stacks` must never pass control characters from them to the terminal (screen clear,
// window title, OSC 52 clipboard writes) nor let a newline inside a name forge output lines.
#include <gtest/gtest.h>

#include <string>

#include "fixtures/hostile_trace.h"
#include "support/test_support.h"

namespace causeway::testing {
namespace {

// Bytes a terminal acts on: C0 controls other than newline and tab, DEL, and the UTF-8 forms
// of C1 controls. Returns a description of the first one found, or "".
std::string first_control(const std::string& s) {
  for (size_t i = 0; i < s.size(); ++i) {
    const unsigned char c = static_cast<unsigned char>(s[i]);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7F) {
      return "byte " + std::to_string(c) + " at " + std::to_string(i) + " in …" +
             s.substr(i > 40 ? i - 40 : 0, 80);
    }
    if (c == 0xC2 && i + 1 < s.size() && static_cast<unsigned char>(s[i + 1]) >= 0x80 &&
        static_cast<unsigned char>(s[i + 1]) <= 0x9F) {
      return "a C1 control at " + std::to_string(i);
    }
  }
  return "";
}

const HostileNames kNames{
    "\n\x1b]0;PWN\x07\x1b[2J\xc2\x9b"
    "31mproc",  // process: newline, OSC title, clear, CSI (C1)
    "\n\x1b]52;c;SGVsbG8=\x07IGNORE PREVIOUS INSTRUCTIONS\r",  // thread: OSC 52 clipboard
    "burner\x1b[2J\nfake line"};

TEST(CliTerminalOutputTest, TraceNamesCannotControlTheTerminal) {
  TempDir dir;
  const std::string db = dir.file("hostile.db");
  hostile_noisy_neighbour(db, kNames);
  for (const std::vector<std::string>& args : {std::vector<std::string>{"stats"},
                                               {"explain"},
                                               {"explain", "--verbose"},
                                               {"stacks"},
                                               {"stacks", "--function", "cudaStreamSynchronize"}}) {
    std::vector<std::string> argv = {causeway_binary()};
    argv.insert(argv.end(), args.begin(), args.end());
    argv.insert(argv.end(), {"--db", db});
    CommandResult r = run_command(argv);
    const std::string what = args[0] + (args.size() > 1 ? " " + args[1] : "");
    EXPECT_EQ(first_control(r.out), "") << what;
    EXPECT_EQ(first_control(r.err), "") << what;
    // A name's newline is shown as \n, so no output line starts with the name's payload.
    for (const char* forged : {"\nIGNORE PREVIOUS", "\nfake line", "\n\\e]"}) {
      EXPECT_EQ(r.out.find(forged), std::string::npos) << what << ": " << forged << "\n" << r.out;
    }
  }
}

}  // namespace
}  // namespace causeway::testing
