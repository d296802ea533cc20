// Making untrusted text safe to print on a terminal or to embed in a sentence.
//
// Names in a trace are whatever the traced program chose (thread names, command lines,
// kernel and function names), and an MCP client chooses its own name, ids and methods. Printed
// raw, such bytes can clear the screen, retitle the window, write the clipboard (OSC 52), hide
// text (bidi overrides) or forge whole output lines (newlines). Every place where trace- or
// client-supplied text reaches a terminal goes through terminal_safe(); MCP text that puts
// such a name into a sentence uses quoted_name() so a model reads it as data.
//
// Thread-safety: pure functions.
#pragma once

#include <string>
#include <string_view>

namespace causeway {

// `s` with everything a terminal would interpret written as visible escapes:
//  - C0 controls and DEL: \n, \r, \t, \e (ESC), \a (BEL), \b, \f, \v, else \xNN;
//  - C1 controls (U+0080..U+009F), which some terminals treat like ESC-sequences: \u0080..;
//  - bidi embedding/override/isolate marks (U+202A..U+202E, U+2066..U+2069): \u202e ..;
//  - bytes that are not well-formed UTF-8: \xNN;
//  - a backslash itself as \\ so an escape in the output is never ambiguous.
// Printable text, including all other non-ASCII characters, is returned unchanged.
std::string terminal_safe(std::string_view s);

// The last line of defence for whole outputs (a report, a table, JSON) on their way to a
// terminal: control characters other than newline and tab, DEL, C1 controls and bidi marks
// become \u00XX / \u202e, invalid UTF-8 becomes \ufffd; everything else, including line
// structure and backslashes, is unchanged (JSON output stays valid JSON). Names inside the
// text should already have been escaped one by one, which also covers their newlines.
std::string terminal_safe_text(std::string_view s);

// `s` as a double-quoted JSON-style string literal: quotes and backslashes escaped, control
// characters as \n, \t, \u001b …, invalid UTF-8 as \ufffd. Used where MCP text quotes a name
// from the trace inside a sentence, so an instruction-looking name stays visibly a value.
std::string quoted_name(std::string_view s);

}  // namespace causeway
