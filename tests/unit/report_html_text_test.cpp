// Escaping of trace strings for the HTML report: markup, script breakouts, invalid UTF-8.
#include <gtest/gtest.h>

#include <nlohmann/json.hpp>

#include "report/html_text.h"

namespace causeway::report {
namespace {

TEST(ReportHtmlTextTest, EscapesMarkupAndQuotes) {
  EXPECT_EQ(html_escape("a<b>&\"c'"), "a&lt;b&gt;&amp;&quot;c&#39;");
  EXPECT_EQ(html_escape("</script><script>alert(1)</script>"),
            "&lt;/script&gt;&lt;script&gt;alert(1)&lt;/script&gt;");
  EXPECT_EQ(html_escape("plain text"), "plain text");
  // Control characters are not allowed in HTML text; tab and newline are.
  EXPECT_EQ(html_escape(std::string("a\x01\x1b[31mb\tc\n\x7f", 11)), "a[31mb\tc\n");
}

TEST(ReportHtmlTextTest, InvalidUtf8BecomesReplacementCharacters) {
  const std::string replacement = "\xEF\xBF\xBD";
  EXPECT_EQ(html_escape("ok \xC3\xA9"), "ok \xC3\xA9");  // é
  EXPECT_EQ(html_escape("\xFF"
                        "x"),
            replacement + "x");                                                     // never valid
  EXPECT_EQ(html_escape("\xC3"), replacement);                                      // truncated
  EXPECT_EQ(html_escape("\xC0\xAF"), replacement + replacement);                    // overlong '/'
  EXPECT_EQ(html_escape("\xED\xA0\x80"), replacement + replacement + replacement);  // surrogate
  EXPECT_EQ(html_escape("\xF0\x9F\x9A\x80"), "\xF0\x9F\x9A\x80");                   // 🚀
  EXPECT_EQ(html_escape("\xFE<"), replacement + "&lt;");
}

TEST(ReportHtmlTextTest, ScriptJsonCannotCloseTheScriptElement) {
  nlohmann::json j = {{"comm", "</script><script>alert(1)</script>"},
                      {"cmd", "<!-- & -->"},
                      {"ls",
                       "a\xE2\x80\xA8"
                       "b"},
                      {"bad", "\xFF\xFE"}};
  const std::string s = script_json(j);
  EXPECT_EQ(s.find('<'), std::string::npos) << s;
  EXPECT_EQ(s.find('>'), std::string::npos) << s;
  EXPECT_EQ(s.find('&'), std::string::npos) << s;
  EXPECT_EQ(s.find("\xE2\x80\xA8"), std::string::npos) << s;
  // Still the same document.
  auto back = nlohmann::json::parse(s);
  EXPECT_EQ(back["comm"], "</script><script>alert(1)</script>");
  EXPECT_EQ(back["cmd"], "<!-- & -->");
  EXPECT_EQ(back["ls"],
            "a\xE2\x80\xA8"
            "b");
  EXPECT_EQ(back["bad"], "\xEF\xBF\xBD\xEF\xBF\xBD");
}

TEST(ReportHtmlTextTest, ClipCutsOnCharacterBoundaries) {
  EXPECT_EQ(clip("short", 10), "short");
  EXPECT_EQ(clip("abcdef", 3), "abc\xE2\x80\xA6");
  // "é" is two bytes; a cut in its middle backs up before it.
  EXPECT_EQ(clip("a\xC3\xA9z", 2), "a\xE2\x80\xA6");
}

}  // namespace
}  // namespace causeway::report
