// Text made safe for an HTML report: every string from the traced system (thread names,
// command lines, paths, kernel symbols) passes through here before it reaches the page.
//
// Thread names are raw kernel comm bytes and command lines are whatever a process was given,
// so they may hold invalid UTF-8, markup, or "</script>". Two contexts exist in the report:
//   - HTML text and attribute values: html_escape();
//   - JSON embedded in <script type="application/json">: script_json(), which also escapes
//     '<', '>' and '&' so no string can close the script element or open a comment.
// Both replace invalid UTF-8 with U+FFFD (causeway::valid_utf8, common/utf8.h).
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

#include <nlohmann/json.hpp>

namespace causeway::report {

// For HTML text and double- or single-quoted attribute values: & < > " ' become entities,
// control characters other than tab/newline are dropped, invalid UTF-8 becomes U+FFFD.
std::string html_escape(std::string_view s);

// `j` serialised for a <script type="application/json"> element: compact JSON whose strings
// have '<', '>', '&', U+2028 and U+2029 as \u escapes (the JSON stays equivalent), invalid
// UTF-8 replaced.
std::string script_json(const nlohmann::json& j);

// At most `max_bytes` of `s` (cut on a UTF-8 boundary), with "…" appended when cut.
std::string clip(std::string_view s, size_t max_bytes);

}  // namespace causeway::report
