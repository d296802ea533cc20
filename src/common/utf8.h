// UTF-8 validation for text from the traced system. Thread names are raw kernel comm bytes,
// command lines and paths are whatever a process was given: any of them may be invalid UTF-8,
// which JSON and HTML output must not carry. Both the timeline export and the HTML report
// use these, so the two agree on what is valid and on what replaces the rest.
//
// Valid means well-formed per RFC 3629: no overlong forms, no surrogates (U+D800..U+DFFF),
// nothing above U+10FFFF.
// Thread-safety: pure functions.
#pragma once

#include <cstddef>
#include <string>
#include <string_view>

namespace causeway {

// U+FFFD REPLACEMENT CHARACTER, UTF-8 encoded (3 bytes).
inline constexpr std::string_view kUtf8Replacement = "\xEF\xBF\xBD";

// Length in bytes (1 to 4) of the well-formed UTF-8 sequence that starts at s[i], or 0 when
// none starts there (a stray continuation byte, an invalid lead byte, a sequence cut short
// by the end of `s`, an overlong form, a surrogate or a value above U+10FFFF).
// Requires i < s.size().
size_t utf8_sequence_length(std::string_view s, size_t i);

// `s` with every byte that does not start a well-formed sequence replaced by U+FFFD (one
// replacement per such byte); valid input is returned unchanged.
std::string valid_utf8(std::string_view s);

}  // namespace causeway
