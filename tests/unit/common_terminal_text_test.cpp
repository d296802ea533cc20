// Terminal-safe and quoted renderings of untrusted names (src/common/terminal_text.cpp).
#include "common/terminal_text.h"

#include <gtest/gtest.h>

namespace causeway {
namespace {

TEST(CommonTerminalTextTest, TerminalSafeEscapesEverythingATerminalActsOn) {
  EXPECT_EQ(terminal_safe("python3"), "python3");
  EXPECT_EQ(terminal_safe("über-名前"), "über-名前");
  EXPECT_EQ(terminal_safe("\n\x1b]0;PWN\x07\x1b[2J"), "\\n\\e]0;PWN\\a\\e[2J");
  EXPECT_EQ(terminal_safe("a\rb\tc\x7f\x01"), "a\\rb\\tc\\x7f\\x01");
  EXPECT_EQ(terminal_safe("back\\slash"), "back\\\\slash");
  EXPECT_EQ(terminal_safe("csi\xc2\x9b"
                          "31m"),
            "csi\\u009b31m");  // C1 CSI
  EXPECT_EQ(terminal_safe("rlo\xe2\x80\xae"
                          "cba"),
            "rlo\\u202ecba");  // bidi override
  EXPECT_EQ(terminal_safe("bad\xff\xc0"), "bad\\xff\\xc0");
}

TEST(CommonTerminalTextTest, TerminalSafeTextKeepsLinesAndJson) {
  EXPECT_EQ(terminal_safe_text("a\nb\tc\\n"), "a\nb\tc\\n");
  EXPECT_EQ(terminal_safe_text("x\x1b[2Jy\x07"), "x\\u001b[2Jy\\u0007");
  EXPECT_EQ(terminal_safe_text("{\"n\":\"\xc2\x85\"}"), "{\"n\":\"\\u0085\"}");
  EXPECT_EQ(terminal_safe_text("\xff"), "\\ufffd");
}

TEST(CommonTerminalTextTest, QuotedNameIsAJsonStringLiteral) {
  EXPECT_EQ(quoted_name("worker"), "\"worker\"");
  EXPECT_EQ(quoted_name("say \"hi\"\n"), "\"say \\\"hi\\\"\\n\"");
  EXPECT_EQ(quoted_name("\x1b]52;c;x\x07"), "\"\\u001b]52;c;x\\u0007\"");
  EXPECT_EQ(quoted_name("\xff"), "\"\\ufffd\"");
}

}  // namespace
}  // namespace causeway
